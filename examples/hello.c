/* hello.c - print the first 8 KiB of a file, read by two requests at once */
#define _POSIX_C_SOURCE 200809L /* AT_FDCWD */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/etc/os-release";
	static char buf[2][4096];
	struct vos_ctx *ctx;
	struct vos_req req[2];
	struct vos_cqe cqe[2];
	int64_t len[2] = { 0, 0 };
	int fd, n, err;

	err = vos_ctx_create(NULL, &ctx); /* defaults: see virtuos(7) */
	if (err < 0) {
		fprintf(stderr, "vos_ctx_create: %s\n", strerror(-err));
		return 1;
	}
	fd = vos_openat(ctx, AT_FDCWD, path, O_RDONLY, 0); /* a blocking call */
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(-fd));
		return 1;
	}
	for (int i = 0; i < 2; i++) { /* two reads in flight at once */
		vos_prep_pread(&req[i], fd, buf[i], sizeof(buf[i]),
			       (uint64_t)i * sizeof(buf[i]));
		req[i].user_data = (uint64_t)i; /* comes back in the completion */
	}
	if (vos_submit(ctx, req, 2) != 2)
		return 1;
	n = vos_wait(ctx, cqe, 2, 2, -1); /* both, in whatever order */
	for (int i = 0; i < n; i++)
		len[cqe[i].user_data] = cqe[i].res; /* bytes, or -errno */
	for (int i = 0; i < 2; i++) {
		if (len[i] < 0) {
			fprintf(stderr, "read: %s\n", strerror((int)-len[i]));
			return 1;
		}
		fwrite(buf[i], 1, (size_t)len[i], stdout);
	}
	vos_close(ctx, fd);
	vos_ctx_destroy(ctx);
	return 0;
}
