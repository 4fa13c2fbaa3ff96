/*
 * tree.h - twin trees for tests that compare what a call left behind with
 * what the kernel's own call left: making a fixture's entries, and a
 * directory tree as text.
 *
 * One line per entry, sorted: its path below the root, type and mode
 * (octal st_mode), owner uid:gid, link count, size and a hash of the
 * content (regular files), and the target (symlinks).  Times and inode
 * numbers are left out: they differ between twins.
 */
#ifndef VOS_TEST_TREE_H
#define VOS_TEST_TREE_H

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Entries of a fixture under t (each asserted; modes exact, whatever the
 * umask). */
static inline void put_file(const char *t, const char *name, const void *data,
		     size_t n, mode_t mode)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", t, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static inline void put_dir(const char *t, const char *name, mode_t mode)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", t, name);
	ck_assert_int_eq(mkdir(p, mode), 0);
	ck_assert_int_eq(chmod(p, mode), 0);
}

static inline void put_link(const char *t, const char *name, const char *target)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", t, name);
	ck_assert_int_eq(symlink(target, p), 0);
}

#define TREE_MAX 128

static char tree_lines[TREE_MAX][320];
static int tree_n;
static size_t tree_base;

/* FNV-1a of a file's bytes (0 if it cannot be read). */
static inline uint64_t tree_hash(const char *path)
{
	uint64_t h = 1469598103934665603ull;
	char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ull;
	close(fd);
	return h;
}

static inline int tree_one(const char *path, const struct stat *sb, int type,
			   struct FTW *ftw)
{
	char target[200] = "";
	uint64_t h = 0;

	(void)type;
	(void)ftw;
	ck_assert_int_lt(tree_n, TREE_MAX);
	if (S_ISLNK(sb->st_mode))
		ck_assert_int_ge(readlink(path, target, sizeof(target) - 1), 0);
	if (S_ISREG(sb->st_mode))
		h = tree_hash(path);
	snprintf(tree_lines[tree_n++], sizeof(tree_lines[0]),
		 "%s %o %u:%u %lu %ld %016llx %s", path + tree_base,
		 (unsigned)sb->st_mode, (unsigned)sb->st_uid,
		 (unsigned)sb->st_gid,
		 S_ISDIR(sb->st_mode) ? 0ul : (unsigned long)sb->st_nlink,
		 S_ISREG(sb->st_mode) ? (long)sb->st_size : 0L,
		 (unsigned long long)h, target);
	return 0;
}

static inline int tree_line_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The tree under dir as sorted lines, in out. */
static inline void tree_of(const char *dir, char *out, size_t cap)
{
	size_t n = 0;

	tree_n = 0;
	tree_base = strlen(dir);
	ck_assert_int_eq(nftw(dir, tree_one, 8, FTW_PHYS), 0);
	qsort(tree_lines, (size_t)tree_n, sizeof(tree_lines[0]),
	      tree_line_cmp);
	out[0] = '\0';
	for (int i = 0; i < tree_n && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s\n", tree_lines[i]);
}

#endif /* VOS_TEST_TREE_H */
