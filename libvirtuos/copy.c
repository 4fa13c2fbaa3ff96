/*
 * copy.c - copy_file_range, sendfile and splice whose fds live in two
 * domains (copy.h).  No kernel holds both files, so the library copies
 * through a private buffer, in steps the router sends one at a time:
 *
 *   1. for each end in a service: its status flags (fcntl F_GETFL) and
 *      its type (statx of the fd); a local end's are read here, at once;
 *   2. the kernel's checks that come before any data moves, in its order,
 *      on what 1 found (checks());
 *   3. without an input offset, on a file that has a position: that
 *      position (lseek SEEK_CUR), so that the reads can be preads;
 *   4. a read of at most COPY_CHUNK (pread at the offset, else read), then
 *      a write of what it read (pwrite at the output's offset, else
 *      write), again until the count is moved, a read ends short (end of
 *      file, or a stream with no more now), a write is short or a step
 *      fails;
 *   5. after 3, the input's position set past what was written (lseek
 *      SEEK_SET): it moves as the kernel's call would move it.
 *
 * The result is what was written, or the first error; the offsets given
 * are written back advanced by it.  What differs from the kernel's call,
 * and why, is in doc/semantics.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <sys/uio.h>

#include "copy.h"
#include "user_mem.h"

#define COPY_CHUNK (1u << 20) /* the most one read step moves */
#define SPLICE_FLAGS 0xfu     /* the kernel's SPLICE_F_ALL */

enum { S_PROBE_FL, S_PROBE_TYPE, S_TELL, S_READ, S_WRITE, S_SEEK, S_DONE };

struct vos__copy {
	struct vos_req r;     /* the call */
	struct vos__copy_end end[2]; /* fd_in [0], fd_out [1] */
	uint8_t step;         /* S_*: the step due, or in flight */
	uint8_t side;         /* S_PROBE_*: the end asked */
	int fl[2];            /* each end's status flags; -1: not open (or
	                       * O_PATH, which the kernel's calls refuse) */
	mode_t type[2];       /* each end's file type (S_IFMT bits) */
	dev_t dev[2];         /* each end's file system (0: not known) */
	struct statx sx;      /* S_PROBE_TYPE's answer */
	int64_t *uoff[2];     /* the caller's offsets, or NULL */
	int64_t pos[2];       /* where the next read or write goes; -1: the
	                       * file position (a stream: read, write) */
	bool tell;            /* the input's position was read (S_TELL) */
	bool nowait[2];       /* SPLICE_F_NONBLOCK on a service's pipe end:
	                       * RWF_NOWAIT (a local one is polled: start()) */
	bool cancelled;       /* stop at the next step (vos__copy_cancel) */
	int own[2];           /* a local end's fd, held (dup'd) for the
	                       * call, or -1 */
	uint64_t left;        /* bytes still to move */
	uint64_t total;       /* bytes moved (written) */
	uint32_t got;         /* bytes of the last read, to write */
	uint32_t asked;       /* bytes the last read asked for */
	uint32_t slots;       /* into a pipe from a file: the pipe's free
	                       * buffers (a page of the file each), or 0 */
	uint32_t cap;
	int64_t err;          /* the first error, when nothing was moved */
	char *buf;
};

static bool is_open(const struct vos__copy *cp, int k)
{
	return cp->fl[k] >= 0;
}

static bool can_read(const struct vos__copy *cp, int k)
{
	int acc = cp->fl[k] & O_ACCMODE;

	return is_open(cp, k) && (acc == O_RDONLY || acc == O_RDWR);
}

static bool can_write(const struct vos__copy *cp, int k)
{
	int acc = cp->fl[k] & O_ACCMODE;

	return is_open(cp, k) && (acc == O_WRONLY || acc == O_RDWR);
}

static bool is_pipe(const struct vos__copy *cp, int k)
{
	return cp->type[k] == S_IFIFO;
}

/* Whether the end's file has offsets (the kernel's FMODE_PREAD): not a
 * pipe, not a socket. */
static bool has_pos(const struct vos__copy *cp, int k)
{
	return cp->type[k] != S_IFIFO && cp->type[k] != S_IFSOCK;
}

/* A local end's flags and type, now; and the file held for the call (a
 * copy of the fd, as the kernel holds the file while its call runs: a
 * close or a dup2 of the number meanwhile does not change what the steps
 * read or write). */
static void probe_local(struct vos__copy *cp, int k)
{
	struct stat st;
	int fl = fcntl(cp->end[k].fd, F_GETFL);

	cp->fl[k] = fl < 0 || (fl & O_PATH) ? -1 : fl;
	if (!is_open(cp, k))
		return;
	if (fstat(cp->end[k].fd, &st) == 0) {
		cp->type[k] = st.st_mode & S_IFMT;
		cp->dev[k] = st.st_dev;
	}
	cp->own[k] = fcntl(cp->end[k].fd, F_DUPFD_CLOEXEC, 0);
	if (cp->own[k] >= 0)
		cp->end[k].fd = cp->own[k];
}

/* The caller's offsets into pos[] (-1 for none): -EFAULT if one cannot
 * be read. */
static int read_offsets(struct vos__copy *cp)
{
	for (int k = 0; k < 2; k++) {
		cp->pos[k] = -1;
		if (cp->uoff[k] &&
		    vos__user_read(&cp->pos[k], cp->uoff[k],
				   sizeof(cp->pos[k])) < 0)
			return -EFAULT;
	}
	return 0;
}

/* The kernel's rw_verify_area() for end k (has: an offset given) and the
 * call's count: a count past SSIZE_MAX, a negative offset, or one whose
 * end would pass the largest offset is -EINVAL. */
static int verify_area(const struct vos__copy *cp, int k, bool has)
{
	if ((int64_t)cp->r.arg < 0)
		return -EINVAL;
	if (has && (cp->pos[k] < 0 ||
		    (uint64_t)cp->pos[k] + cp->r.arg > (uint64_t)INT64_MAX))
		return -EINVAL;
	return 0;
}

/* The kernel's checks before it moves anything, in its order (Linux
 * 6.x: copy_file_range's generic_copy_file_checks, do_sendfile, and
 * __do_splice with do_splice), on what the ends said.  0 or -errno. */
static int checks(struct vos__copy *cp)
{
	const struct vos_req *r = &cp->r;
	const bool has0 = cp->uoff[0], has1 = cp->uoff[1];
	int e;

	switch (r->op) {
	case VOS_OP_COPY_FILE_RANGE:
		if (!is_open(cp, 0) || !is_open(cp, 1))
			return -EBADF;
		if ((e = read_offsets(cp)) < 0)
			return e;
		if (r->op_flags)
			return -EINVAL;
		if (cp->type[0] == S_IFDIR || cp->type[1] == S_IFDIR)
			return -EISDIR;
		if (cp->type[0] != S_IFREG || cp->type[1] != S_IFREG)
			return -EINVAL;
		if (!can_read(cp, 0) || !can_write(cp, 1) ||
		    (cp->fl[1] & O_APPEND))
			return -EBADF;
		/* an end that wraps (as unsigned), then a negative offset */
		for (int k = 0; k < 2; k++)
			if (cp->uoff[k] && (uint64_t)cp->pos[k] + r->arg <
					   (uint64_t)cp->pos[k])
				return -EOVERFLOW;
		if ((has0 && cp->pos[0] < 0) || (has1 && cp->pos[1] < 0))
			return -EINVAL;
		return 0;
	case VOS_OP_SENDFILE:
		/* (its offset was read first: vos__copy_begin) */
		if ((e = read_offsets(cp)) < 0)
			return e;
		if (!can_read(cp, 0))
			return -EBADF;
		if (has0 && !has_pos(cp, 0))
			return -ESPIPE;
		if ((e = verify_area(cp, 0, has0)) < 0)
			return e;
		if (!can_write(cp, 1))
			return -EBADF;
		if (!is_pipe(cp, 1) && (cp->fl[1] & O_APPEND))
			return -EINVAL;
		if (cp->type[0] != S_IFREG && cp->type[0] != S_IFBLK)
			return -EINVAL; /* a file the kernel can read pages of */
		return 0;
	default: /* VOS_OP_SPLICE */
		if (!is_open(cp, 0) || !is_open(cp, 1))
			return -EBADF;
		if ((is_pipe(cp, 0) && has0) || (is_pipe(cp, 1) && has1))
			return -ESPIPE; /* a pipe has no offsets */
		if ((e = read_offsets(cp)) < 0)
			return e;
		if (!can_read(cp, 0) || !can_write(cp, 1))
			return -EBADF;
		if (is_pipe(cp, 0) && is_pipe(cp, 1))
			return 0;
		if (is_pipe(cp, 0)) {
			if ((has1 && !has_pos(cp, 1)) ||
			    (cp->fl[1] & O_APPEND))
				return -EINVAL;
			return verify_area(cp, 1, has1);
		}
		if (is_pipe(cp, 1)) {
			if ((has0 && !has_pos(cp, 0)) ||
			    cp->type[0] == S_IFDIR) /* (no splice_read) */
				return -EINVAL;
			return verify_area(cp, 0, has0);
		}
		return -EINVAL; /* one end must be a pipe */
	}
}

void vos__copy_free(struct vos__copy *cp)
{
	if (!cp)
		return;
	for (int k = 0; k < 2; k++)
		if (cp->own[k] >= 0)
			close(cp->own[k]);
	free(cp->buf);
	free(cp);
}

/* Whether cp's due step may be stopped without losing what was read: a
 * probe, the position, a read; a write of what a file gave (it is read
 * again from the position, which moves only past what was written). */
static bool stoppable(const struct vos__copy *cp)
{
	return cp->step == S_PROBE_FL || cp->step == S_PROBE_TYPE ||
	       cp->step == S_TELL || cp->step == S_READ ||
	       (cp->step == S_WRITE && cp->pos[0] >= 0);
}

int vos__copy_cancel(struct vos__copy *cp)
{
	cp->cancelled = true;
	return stoppable(cp) ? 0 : -EALREADY;
}

bool vos__copy_stopped(const struct vos__copy *cp)
{
	return cp->cancelled && stoppable(cp);
}

/* Room in a local pipe (its size less what it holds), or -1 if not
 * known. */
static int64_t pipe_room(int fd)
{
	int size = fcntl(fd, F_GETPIPE_SZ), held = 0;

	if (size < 0 || ioctl(fd, FIONREAD, &held) < 0)
		return -1;
	return size > held ? size - held : 0;
}

/* Whether a local fd is ready for events now. */
static bool ready_now(int fd, short events)
{
	struct pollfd p = { fd, events, 0 };

	return poll(&p, 1, 0) > 0;
}

/* Whether pipe end k is not to be waited for: SPLICE_F_NONBLOCK, or the
 * pipe's own O_NONBLOCK (a pipe to pipe splice: either's), as do_splice
 * reads them. */
static bool nonblock(const struct vos__copy *cp, int k)
{
	int fl = cp->fl[k];

	if (is_pipe(cp, 0) && is_pipe(cp, 1))
		fl |= cp->fl[1 - k];
	return (fl & O_NONBLOCK) ||
	       (cp->r.op == VOS_OP_SPLICE &&
		(cp->r.op_flags & SPLICE_F_NONBLOCK));
}

/* The checks passed or not: the first data step due (true), or the
 * call's result in *res (false). */
static bool start(struct vos__copy *cp, int64_t *res)
{
	int e = checks(cp);
	uint64_t count = cp->r.arg < VOS_MAX_RW_LEN ? cp->r.arg
						    : VOS_MAX_RW_LEN;

	/* copy_file_range between two file systems: the kernel's -EXDEV
	 * (after its checks, before it looks at the count) */
	if (e == 0 && cp->r.op == VOS_OP_COPY_FILE_RANGE && cp->dev[0] &&
	    cp->dev[1] && cp->dev[0] != cp->dev[1])
		e = -EXDEV;
	*res = e;
	if (e < 0 || count == 0)
		return false;
	/* into a pipe the kernel moves at most what fits, once: a local
	 * pipe's room (a full one: what PIPE_BUF needs, waited for, or
	 * -EAGAIN when the program asked not to wait), a service's FIFO's
	 * default size */
	if (is_pipe(cp, 1)) {
		int64_t room = cp->end[1].svc ? 65536
					      : pipe_room(cp->end[1].fd);
		bool nb = nonblock(cp, 1);

		if (room == 0 && nb && !cp->end[1].svc) {
			*res = -EAGAIN;
			return false;
		}
		if (room <= 0)
			room = PIPE_BUF;
		if ((uint64_t)room < count)
			count = (uint64_t)room;
		/* from a file, the kernel fills each pipe buffer with one
		 * page of the file's: the first only from the offset on */
		if (cp->type[0] == S_IFREG || cp->type[0] == S_IFBLK)
			cp->slots = (uint32_t)(room / sysconf(_SC_PAGESIZE));
	}
	/* SPLICE_F_NONBLOCK on a local pipe to read from: -EAGAIN now when
	 * it is empty (and has writers) */
	if (is_pipe(cp, 0) && !cp->end[0].svc && nonblock(cp, 0) &&
	    !ready_now(cp->end[0].fd, POLLIN)) {
		*res = -EAGAIN;
		return false;
	}
	cp->cap = count < COPY_CHUNK ? (uint32_t)count : COPY_CHUNK;
	cp->buf = malloc(cp->cap);
	if (!cp->buf) {
		*res = -ENOMEM;
		return false;
	}
	cp->left = count;
	/* (a service's FIFO that is O_NONBLOCK itself says -EAGAIN without
	 * help) */
	for (int k = 0; k < 2; k++)
		cp->nowait[k] = is_pipe(cp, k) && cp->end[k].svc &&
				nonblock(cp, k) && !(cp->fl[k] & O_NONBLOCK);
	/* without an input offset: the input's position, where it has one */
	cp->step = cp->uoff[0] || !has_pos(cp, 0) ? S_READ : S_TELL;
	return true;
}

/* The next end from k on that lives in a service, or 2. */
static uint8_t next_remote(const struct vos__copy *cp, int k)
{
	for (; k < 2; k++)
		if (cp->end[k].svc)
			return (uint8_t)k;
	return 2;
}

int vos__copy_begin(const struct vos_req *r,
		    const struct vos__copy_end end[2], struct vos__copy **out,
		    int64_t *res)
{
	struct vos__copy *cp;
	int64_t off;

	*out = NULL;
	*res = 0;
	/* what the kernel looks at before the fds: splice's length and
	 * flags, sendfile's offset */
	if (r->op == VOS_OP_SPLICE && r->arg == 0)
		return 1;
	if (r->op == VOS_OP_SPLICE && (r->op_flags & ~SPLICE_FLAGS))
		return -EINVAL;
	if (r->op == VOS_OP_SENDFILE && r->addr &&
	    vos__user_read(&off, (const void *)(uintptr_t)r->addr,
			   sizeof(off)) < 0)
		return -EFAULT;
	cp = calloc(1, sizeof(*cp));
	if (!cp)
		return -ENOMEM;
	cp->r = *r;
	cp->uoff[0] = (int64_t *)(uintptr_t)r->addr;
	cp->uoff[1] = r->op == VOS_OP_SENDFILE ? NULL
					       : (int64_t *)(uintptr_t)r->addr2;
	for (int k = 0; k < 2; k++) {
		cp->end[k] = end[k];
		cp->fl[k] = -1;
		cp->own[k] = -1;
		if (!end[k].svc)
			probe_local(cp, k);
	}
	cp->side = next_remote(cp, 0);
	if (cp->side < 2) {
		cp->step = S_PROBE_FL; /* the service's end: ask it */
	} else if (!start(cp, res)) {
		vos__copy_free(cp);
		return 1;
	}
	*out = cp;
	return 0;
}

uint8_t vos__copy_step(struct vos__copy *cp, struct vos_req *c)
{
	uint32_t n;

	switch (cp->step) {
	case S_PROBE_FL:
		vos_prep_fcntl(c, cp->end[cp->side].fd, F_GETFL, 0);
		return cp->end[cp->side].svc;
	case S_PROBE_TYPE:
		vos_prep_statx(c, cp->end[cp->side].fd, "", AT_EMPTY_PATH,
			       STATX_TYPE, &cp->sx);
		return cp->end[cp->side].svc;
	case S_TELL:
		vos_prep_lseek(c, cp->end[0].fd, 0, SEEK_CUR);
		return cp->end[0].svc;
	case S_READ:
		n = cp->left < cp->cap ? (uint32_t)cp->left : cp->cap;
		if (cp->slots && cp->pos[0] >= 0) {
			/* pages of the file into the pipe's free buffers */
			uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
			uint64_t most = cp->slots * page -
					(uint64_t)cp->pos[0] % page;

			if (most < n)
				n = (uint32_t)most;
		}
		cp->asked = n;
		if (cp->pos[0] >= 0)
			vos_prep_pread(c, cp->end[0].fd, cp->buf, n,
				       (uint64_t)cp->pos[0]);
		else
			vos_prep_read(c, cp->end[0].fd, cp->buf, n);
		c->op_flags = cp->nowait[0] ? RWF_NOWAIT : 0;
		return cp->end[0].svc;
	case S_WRITE:
		if (cp->pos[1] >= 0)
			vos_prep_pwrite(c, cp->end[1].fd, cp->buf, cp->got,
					(uint64_t)cp->pos[1]);
		else
			vos_prep_write(c, cp->end[1].fd, cp->buf, cp->got);
		c->op_flags = cp->nowait[1] ? RWF_NOWAIT : 0;
		return cp->end[1].svc;
	default: /* S_SEEK */
		vos_prep_lseek(c, cp->end[0].fd, cp->pos[0], SEEK_SET);
		return cp->end[0].svc;
	}
}

/* Done: the result, with the offsets written back (cp freed). */
static int64_t finish(struct vos__copy *cp)
{
	int64_t res = cp->total ? (int64_t)cp->total : cp->err;

	for (int k = 0; k < 2 && cp->total; k++)
		if (cp->uoff[k] &&
		    vos__user_write(cp->uoff[k], &cp->pos[k],
				    sizeof(cp->pos[k])) < 0)
			res = -EFAULT;
	vos__copy_free(cp);
	return res;
}

/* After the data steps: the input's position set, or done. */
static uint8_t after_data(const struct vos__copy *cp)
{
	return cp->tell && cp->total ? S_SEEK : S_DONE;
}

/* An end's probe is done: the next end's, or the checks and the first
 * data step (true), or the call's result in *res (false, cp freed). */
static bool probed(struct vos__copy *cp, int64_t *res)
{
	cp->side = next_remote(cp, cp->side + 1);
	if (cp->side < 2 && !cp->cancelled) {
		cp->step = S_PROBE_FL;
		return true;
	}
	if (cp->cancelled) {
		*res = -ECANCELED;
		vos__copy_free(cp);
		return false;
	}
	if (!start(cp, res)) {
		vos__copy_free(cp);
		return false;
	}
	return true;
}

bool vos__copy_next(struct vos__copy *cp, int64_t *res)
{
	int64_t got = *res;

	switch (cp->step) {
	case S_PROBE_FL:
		cp->fl[cp->side] = got < 0 || (got & O_PATH) ? -1 : (int)got;
		if (is_open(cp, cp->side)) {
			cp->step = S_PROBE_TYPE;
			return true;
		}
		/* no type to ask of a file not open */
		return probed(cp, res);
	case S_PROBE_TYPE:
		if (got == 0) {
			cp->type[cp->side] = cp->sx.stx_mode & S_IFMT;
			/* (one kernel's numbers: the services on this one) */
			cp->dev[cp->side] = makedev(cp->sx.stx_dev_major,
						    cp->sx.stx_dev_minor);
		}
		return probed(cp, res);
	case S_TELL:
		if (got >= 0) {
			/* the position's own checks (the offset's were made
			 * up front): copy_file_range's wrap, sendfile's and
			 * splice's end past the largest offset */
			uint64_t end = (uint64_t)got + cp->r.arg;

			cp->pos[0] = got;
			cp->tell = true;
			if (cp->r.op == VOS_OP_COPY_FILE_RANGE
			    ? end < (uint64_t)got : end > (uint64_t)INT64_MAX) {
				cp->err = cp->r.op == VOS_OP_COPY_FILE_RANGE
					  ? -EOVERFLOW : -EINVAL;
				cp->tell = false;
				cp->step = S_DONE;
				break;
			}
		} else if (got != -ESPIPE) {
			cp->err = got;
			cp->step = S_DONE;
			break;
		}
		cp->step = S_READ;
		break;
	case S_READ:
		if (got <= 0 || (uint64_t)got > cp->asked) {
			if (!cp->total)
				cp->err = got > 0 ? -EIO : got;
			cp->step = after_data(cp);
			break;
		}
		cp->got = (uint32_t)got;
		cp->step = S_WRITE;
		break;
	case S_WRITE:
		if (got < 0 || (uint64_t)got > cp->got) {
			if (!cp->total)
				cp->err = got < 0 ? got : -EIO;
			cp->step = after_data(cp);
			break;
		}
		for (int k = 0; k < 2; k++)
			if (cp->pos[k] >= 0 && got > INT64_MAX - cp->pos[k])
				got = -EIO; /* past the largest offset: a lie */
		if (got < 0) {
			if (!cp->total)
				cp->err = got;
			cp->step = after_data(cp);
			break;
		}
		cp->total += (uint64_t)got;
		cp->left -= (uint64_t)got;
		for (int k = 0; k < 2; k++)
			if (cp->pos[k] >= 0)
				cp->pos[k] += got;
		/* on while whole reads are written whole; once from a pipe
		 * or a socket (what it holds now) and into a pipe (what
		 * fits), as the kernel */
		cp->step = cp->left && (uint32_t)got == cp->asked &&
			   has_pos(cp, 0) && !is_pipe(cp, 1) ? S_READ
							      : after_data(cp);
		break;
	default: /* S_SEEK: done whatever it said (the bytes moved) */
		cp->step = S_DONE;
		break;
	}
	/* cancelled: no further read (what was read is written first; the
	 * position is still set past what was written) */
	if (cp->cancelled && (cp->step == S_TELL || cp->step == S_READ)) {
		if (!cp->total)
			cp->err = -ECANCELED;
		cp->step = after_data(cp);
	}
	if (cp->step != S_DONE)
		return true;
	*res = finish(cp);
	return false;
}
