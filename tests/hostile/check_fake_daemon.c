/*
 * check_fake_daemon.c - a fake daemon against a real client: the client
 * end of the boundary (libvirtuos/wire/ring_client.c over the shm
 * channel) must hold against a service that lies, changes what it shared,
 * hands over the wrong things or stops answering.  The library treats the
 * service as possibly byzantine: whatever the fake does, the program gets
 * results or errors within a bound, never a crash, a hang or a leak.
 *
 * The fake runs in a child process (fake()), speaks the control protocol
 * by hand, makes the region itself and answers requests with a minimal
 * loop (NOP and everything else: 0), misbehaving as its mode says.  The
 * victim is this process, with the public API on transport "shm".
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

#include "control.h"
#include "daemon.h"
#include "raw.h"
#include "shm_control.h"

enum mode {
	M_GOOD,         /* behaves (the baseline) */
	M_UNSEALED,     /* the memfd has no seals */
	M_SHRINKABLE,   /* sealed against growing only */
	M_WRONG_SIZE,   /* memfd larger than the region it announces */
	M_BELL_EVENTFD, /* hands an eventfd as the doorbell */
	M_BELL_DGRAM,   /* a datagram socket as the doorbell */
	M_EXTRA_FDS,    /* four fds instead of two */
	M_EPOCH,        /* reply and header disagree on the epoch */
	M_HUGE,         /* announces a 64 GiB region */
	M_FLIP,         /* rewrites the header's geometry all the time */
	M_SILENT,       /* attaches, then never answers */
	M_MUTE,         /* takes the ATTACH, never replies to it */
	M_BLOCKING_BELL,/* keeps the client's doorbell end: blocking, full */
	M_GARBAGE,      /* completions with random tags and results */
	M_SEQ,          /* completions with wrong sequence words */
	M_HANGUP,       /* answers a few, then closes everything mid-call */
	M_LIES,         /* results beyond what was asked */
	M_LOFF,         /* copy_file_range, sendfile, splice: offsets not
	                 * moved by the result, negative, or a result past
	                 * the count; every fourth the truth */
	M_GROW_MUTE,    /* never answers a GROW */
	M_GROW_WRITER,  /* takes a GROW; never answers a call on the area;
	                 * writes all over the area once the client left */
	M_DROP_FIRST,   /* closes the first 3 connections unanswered (as a
	                 * daemon at its pending bound does), then good */
	M_DROP_ALL,     /* closes every connection unanswered */
	M_LATE_RING,    /* answers a NOP, rings the doorbell after the
	                 * client took it (as a service that saw NEED_WAKEUP
	                 * just before the client cleared it), says 'r';
	                 * holds an fsync; answers the rest */
};

static char work[64], sockpath[100];
static pid_t fake_pid;
static int attaches_fd = -1; /* the fake reports each attach here */

static void fail_exit(const char *what)
{
	fprintf(stderr, "fake: %s: %s\n", what, strerror(errno));
	_exit(3);
}

struct fake_ring {
	uint8_t *map;
	struct vos__geom g;
	uint32_t sq_head, cq_tail;
	int bell;
	int conn;       /* the control connection */
	enum mode mode;
	atomic_bool stop;
};

/* M_GROW_WRITER: the client's area, as mapped here. */
static uint8_t *fake_area;
static uint64_t fake_area_size;

/* M_FLIP: rewrite the geometry fields between sane and absurd values. */
static void *flipper(void *arg)
{
	struct fake_ring *f = arg;
	volatile struct vos_wire_header *h = (void *)f->map;
	uint64_t i = 0;

	while (!atomic_load(&f->stop)) {
		bool odd = ++i & 1;

		h->data_off = odd ? ((uint64_t)1 << 36) : f->g.data_off;
		h->sq_entries = odd ? 1u << 30 : f->g.entries;
		h->slot_size = odd ? 16 : f->g.slot_size;
		h->region_size = odd ? (uint64_t)-1 : f->g.size;
		h->cq_off = odd ? 0xffffff00u : f->g.cq_off;
	}
	return NULL;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Whether the client's next request entry is there (its sequence word,
 * the entry's last 4 bytes, says so). */
static bool sq_ready(struct fake_ring *f)
{
	struct vos_wire_req *sq = (void *)(f->map + f->g.sq_off);

	return __atomic_load_n(&sq[f->sq_head & (f->g.entries - 1)].seq,
			       __ATOMIC_ACQUIRE) == f->sq_head + 1;
}

/* Put a completion: the body, then its sequence word (M_SEQ: a wrong one,
 * from a later lap, garbage, or the right one a slot too far on). */
static void put_cqe(struct fake_ring *f, const struct vos_wire_cqe *e)
{
	struct vos_wire_cqe *cq = (void *)(f->map + f->g.cq_off);
	uint32_t i = f->cq_tail++, seq = i + 1;

	if (f->mode == M_SEQ) {
		switch (rnd() % 3) {
		case 0: seq += f->g.entries * (1 + (uint32_t)(rnd() % 4)); break;
		case 1: seq = (uint32_t)rnd() | 0x80000000u; break;
		default: i++; seq = i + 1; break;
		}
	}
	memcpy(&cq[i & (f->g.entries - 1)], e, sizeof(*e) - 4);
	__atomic_store_n(&cq[i & (f->g.entries - 1)].seq, seq,
			 __ATOMIC_RELEASE);
}

/* Answer requests until the client goes (or forever, if silent). */
static void serve(struct fake_ring *f)
{
	struct vos_wire_header *h = (void *)f->map;
	struct vos_wire_req *sq = (void *)(f->map + f->g.sq_off);
	unsigned answered = 0;

	for (;;) {
		struct pollfd p = { f->bell, POLLIN, 0 };
		char buf[64];
		bool plain = false; /* M_LATE_RING: published as usual */

		while (sq_ready(f)) {
			struct vos_wire_req w = sq[f->sq_head++ & (f->g.entries - 1)];
			struct vos_wire_cqe e = { .tag = w.tag };

			if (f->mode == M_FLIP && answered++ == 0) {
				/* flip from the first call on: the client
				 * checked a sane header at attach, and must
				 * never look at it again */
				pthread_t t;

				pthread_create(&t, NULL, flipper, f);
			}
			if (f->mode == M_HANGUP && ++answered > 3)
				_exit(0); /* everything closes mid-call */
			if (f->mode == M_GARBAGE) {
				e.tag = rnd() % 4 ? rnd() % 8 : rnd();
				e.res = (int64_t)rnd();
			}
			if (f->mode == M_LOFF && w.addr_len == 8 &&
			    (w.op == VOS_OP_COPY_FILE_RANGE ||
			     w.op == VOS_OP_SENDFILE || w.op == VOS_OP_SPLICE) &&
			    w.addr <= f->g.data_size - 8) {
				static unsigned lies;
				uint8_t *at = f->map + f->g.data_off + w.addr;
				int64_t o;

				memcpy(&o, at, sizeof(o));
				switch (lies++ % 4) {
				case 0: e.res = 4; break; /* not moved */
				case 1: e.res = 4; o = -1; break;
				case 2: e.res = (int64_t)w.arg + 1; o += e.res;
					break;
				default: e.res = 4; o += 4; break;
				}
				memcpy(at, &o, sizeof(o));
			}
			if (f->mode == M_LIES)
				e.res = w.op == VOS_OP_OPENAT ? (1 << 21) + 5 :
					(int64_t)w.len + 1 + (int64_t)(rnd() % 100);
			if (f->mode == M_LATE_RING) {
				struct vos_wire_header *hh = (void *)f->map;

				if (w.op == VOS_OP_FSYNC)
					continue; /* held */
				if (w.op != VOS_OP_NOP) {
					plain = true;
					put_cqe(f, &e);
					continue;
				}
				put_cqe(f, &e);
				__atomic_store_n(&hh->sq_head, f->sq_head,
						 __ATOMIC_RELEASE);
				/* the ring it asked for, if it sleeps */
				__atomic_thread_fence(__ATOMIC_SEQ_CST);
				if (__atomic_load_n(&hh->client_flags,
						    __ATOMIC_RELAXED) &
				    VOS_WIRE_CLIENT_NEED_WAKEUP)
					send(f->bell, "x", 1,
					     MSG_DONTWAIT | MSG_NOSIGNAL);
				/* the client takes it (its completion
				 * counter moves), then the late ring comes */
				while (__atomic_load_n(&hh->cq_head,
						       __ATOMIC_ACQUIRE) !=
				       f->cq_tail)
					sched_yield();
				send(f->bell, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (write(attaches_fd, "r", 1) != 1)
					_exit(8);
				continue;
			}
			if (f->mode == M_GROW_WRITER && w.addr_len &&
			    w.addr >= ((f->g.data_size + 4095) & ~4095ull)) {
				/* a call on a buffer in the area: kept, and
				 * never answered */
				if (write(attaches_fd, "z", 1) != 1)
					_exit(8);
				continue;
			}
			put_cqe(f, &e);
		}
		__atomic_store_n(&h->sq_head, f->sq_head, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		/* (M_LATE_RING rings only as above: nothing published
		 * here) */
		if ((f->mode != M_LATE_RING || plain) &&
		    (__atomic_load_n(&h->client_flags, __ATOMIC_RELAXED) &
		     VOS_WIRE_CLIENT_NEED_WAKEUP))
			send(f->bell, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		__atomic_fetch_or(&h->server_flags, VOS_WIRE_SERVER_NEED_WAKEUP,
				  __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!sq_ready(f) && poll(&p, 1, 10000) > 0 &&
		    recv(f->bell, buf, sizeof(buf), MSG_DONTWAIT) == 0) {
			/* the client hung up (in the GROW modes the control
			 * thread ends the fake) */
			if (f->mode == M_GROW_MUTE || f->mode == M_GROW_WRITER)
				for (;;)
					pause();
			_exit(0);
		}
		__atomic_fetch_and(&h->server_flags,
				   ~VOS_WIRE_SERVER_NEED_WAKEUP,
				   __ATOMIC_RELAXED);
	}
}

/* M_GROW_MUTE, M_GROW_WRITER: the control connection, read on a thread
 * of its own.  A GROW is never answered (mute), or its area is mapped
 * and taken (writer).  Once the client hangs up, the writer writes 0xee
 * all over the area (a call finished late), and the fake says 'h' (mute)
 * or 'w' (writer) and ends. */
static void *control_watch(void *arg)
{
	struct fake_ring *f = arg;

	for (;;) {
		union {
			struct vos_wire_msg h;
			char b[VOS_WIRE_MSG_MAX + 1];
		} m;
		struct vos_wire_grow g;
		int fds[VOS__SHM_MAX_FDS];
		unsigned nfds = 0;
		int n = vos__shm_ctl_recv(f->conn, m.b, sizeof(m.b) - 1, fds,
					  &nfds, 60000);

		if (n <= 0 || m.h.type == VOS_WIRE_MSG_DETACH)
			break;
		if (m.h.type == VOS_WIRE_MSG_GROW && f->mode == M_GROW_WRITER &&
		    nfds == 1 && !fake_area &&
		    (size_t)n == sizeof(m.h) + sizeof(g)) {
			void *a;

			memcpy(&g, m.b + sizeof(m.h), sizeof(g));
			a = mmap(NULL, g.size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fds[0], 0);
			if (a == MAP_FAILED)
				fail_exit("mmap area");
			fake_area = a;
			fake_area_size = g.size;
			vos__shm_ctl_send(f->conn, VOS_WIRE_MSG_REPLY, 0, "ok", 2,
					  NULL, 0);
		}
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
	}
	if (fake_area)
		memset(fake_area, 0xee, fake_area_size);
	if (write(attaches_fd, f->mode == M_GROW_MUTE ? "h" : "w", 1) != 1)
		_exit(8);
	_exit(0);
	return NULL;
}

/* One client: its ATTACH, a region and a doorbell as the mode says. */
static void fake_client(int conn, enum mode mode)
{
	union {
		struct vos_wire_msg h;
		char b[VOS_WIRE_MSG_MAX];
	} m;
	struct vos_wire_attach a;
	struct vos_wire_attach_reply rep = { 0 };
	struct vos_wire_header hdr;
	struct fake_ring f = { .mode = mode };
	char msg[VOS_WIRE_MSG_MAX];
	int fds[4], nfds = 2, memfd, sv[2], n, seals;
	uint64_t size;

	n = (int)recv(conn, m.b, sizeof(m.b), 0);
	if (n < (int)(sizeof(m.h) + sizeof(a)) ||
	    m.h.type != VOS_WIRE_MSG_ATTACH)
		_exit(4);
	memcpy(&a, m.b + sizeof(m.h), sizeof(a));
	if (mode == M_MUTE) {
		char c;

		if (write(attaches_fd, "a", 1) != 1)
			_exit(8);
		while (recv(conn, &c, 1, 0) > 0) /* until the client goes */
			;
		_exit(0);
	}
	if (!vos__geom_make(a.sq_entries, a.slot_size, &f.g))
		_exit(5);
	size = f.g.size;
	memfd = memfd_create("fake-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 ||
	    ftruncate(memfd, (off_t)(mode == M_WRONG_SIZE ? size + 4096 : size)) < 0)
		fail_exit("memfd");
	f.map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (f.map == MAP_FAILED)
		fail_exit("mmap");
	vos__header_make(&f.g, 0x1234, &hdr);
	memcpy(f.map, &hdr, sizeof(hdr));
	seals = mode == M_UNSEALED ? 0 : mode == M_SHRINKABLE ? F_SEAL_GROW :
		F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	if (seals && fcntl(memfd, F_ADD_SEALS, seals) < 0)
		fail_exit("seals");
	if (socketpair(AF_UNIX, (mode == M_BELL_DGRAM ? SOCK_DGRAM : SOCK_STREAM) |
		       SOCK_CLOEXEC, 0, sv) < 0)
		fail_exit("socketpair");
	f.bell = sv[0];
	fds[0] = memfd;
	fds[1] = mode == M_BELL_EVENTFD ? eventfd(0, EFD_CLOEXEC) : sv[1];
	if (mode == M_EXTRA_FDS) {
		fds[2] = dup(sv[1]);
		fds[3] = dup(memfd);
		nfds = 4;
	}
	rep.region_size = mode == M_HUGE ? (uint64_t)64 << 30 : size;
	rep.epoch = mode == M_EPOCH ? 0x4321 : 0x1234;
	n = vos__ctl_frame(msg, sizeof(msg), VOS_WIRE_MSG_ATTACH_REPLY, 0, &rep,
			   sizeof(rep));
	{
		union {
			char buf[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} u;
		struct iovec iov = { msg, (size_t)n };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = u.buf,
				     .msg_controllen = CMSG_SPACE(sizeof(int) * nfds) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		memset(&u, 0, sizeof(u));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		if (sendmsg(conn, &mh, MSG_NOSIGNAL) != n)
			_exit(6);
	}
	if (mode == M_BLOCKING_BELL) {
		/* the client's end is one open file description: make it
		 * blocking under the client, and fill what the client would
		 * read, then never read what it sends */
		int fl = fcntl(sv[1], F_GETFL);

		fcntl(sv[1], F_SETFL, fl & ~O_NONBLOCK);
		while (send(sv[0], "x", 1, MSG_DONTWAIT) == 1)
			;
	} else {
		close(sv[1]);
	}
	/* the seals hold against their maker too */
	if (seals & F_SEAL_SHRINK && ftruncate(memfd, 0) == 0)
		_exit(7);
	if (write(attaches_fd, "a", 1) != 1)
		_exit(8);
	if (mode == M_SILENT || mode == M_BLOCKING_BELL) {
		/* asleep for good: every request of the client rings the
		 * doorbell; nothing is ever answered; wait for the client to
		 * leave */
		struct vos_wire_header *h = (void *)f.map;
		char c;

		__atomic_store_n(&h->server_flags, VOS_WIRE_SERVER_NEED_WAKEUP,
				 __ATOMIC_SEQ_CST);
		while (recv(conn, &c, 1, 0) > 0)
			;
		_exit(0);
	}
	if (mode == M_GROW_MUTE || mode == M_GROW_WRITER) {
		pthread_t t;

		f.conn = conn;
		if (pthread_create(&t, NULL, control_watch, &f) != 0)
			_exit(9);
	}
	serve(&f);
}

/* The fake daemon: accepts clients one after another, forever (the test
 * kills it). */
static void fake(int lfd, enum mode mode)
{
	for (int n = 0;; n++) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pid_t p;

		if (conn < 0)
			_exit(2);
		if (mode == M_DROP_ALL || (mode == M_DROP_FIRST && n < 3)) {
			close(conn);
			if (write(attaches_fd, "d", 1) != 1)
				_exit(8);
			continue;
		}
		p = fork();
		if (p == 0) {
			close(lfd);
			fake_client(conn, mode);
			_exit(0);
		}
		close(conn);
	}
}

static int fake_attaches_pipe[2];

static void start_fake(enum mode mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int lfd;

	if (!work[0]) {
		const char *t = getenv("TMPDIR");

		snprintf(work, sizeof(work), "%s/vos-fake-XXXXXX",
			 t && *t ? t : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(work));
	}
	snprintf(sockpath, sizeof(sockpath), "%s/fake%d.sock", work, (int)mode);
	unlink(sockpath);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_int_eq(pipe2(fake_attaches_pipe, O_CLOEXEC), 0);
	fake_pid = fork();
	ck_assert_int_ge(fake_pid, 0);
	if (fake_pid == 0) {
		signal(SIGCHLD, SIG_IGN); /* its children reap themselves */
		close(fake_attaches_pipe[0]);
		attaches_fd = fake_attaches_pipe[1];
		fake(lfd, mode);
		_exit(0);
	}
	close(lfd);
	close(fake_attaches_pipe[1]);
}

static void stop_fake(void)
{
	int st;

	if (fake_pid > 0) {
		kill(-fake_pid, SIGKILL);
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, &st, 0);
	}
	fake_pid = 0;
	close(fake_attaches_pipe[0]);
	unlink(sockpath);
}

static int seen_attaches, seen_drops;

/* Read what the fake says for up to ms: true once it said what (or, with
 * what 0, once it completed want attaches). */
static bool fake_said(char what, int want, int ms)
{
	int64_t end = raw_now_ms() + ms;
	char c;

	while (raw_now_ms() < end) {
		struct pollfd p = { fake_attaches_pipe[0], POLLIN, 0 };

		if (!what && seen_attaches >= want)
			return true;
		if (poll(&p, 1, (int)(end - raw_now_ms())) > 0 &&
		    read(fake_attaches_pipe[0], &c, 1) == 1) {
			seen_attaches += c == 'a';
			seen_drops += c == 'd';
			if (what && c == what)
				return true;
		}
	}
	return !what && seen_attaches >= want;
}

/* How many attaches the fake has completed (waits up to ms for at least
 * want). */
static int attaches(int want, int ms)
{
	fake_said(0, want, ms);
	return seen_attaches;
}


static struct vos_ctx *victim(int64_t deadline_ns, bool lazy, int *err)
{
	struct vos_config cfg;
	struct vos_ctx *ctx = NULL;
	char opts[200];

	vos_config_init(&cfg);
	snprintf(opts, sizeof(opts), "path=%s%s", sockpath,
		 lazy ? ",lazy=1" : "");
	cfg.transport = "shm";
	cfg.options = opts;
	cfg.deadline_ns = deadline_ns;
	*err = vos_ctx_create(&cfg, &ctx);
	return ctx;
}

/* ---- refused at attach ------------------------------------------------- */

START_TEST(refuses_bad_offers)
{
	static const struct {
		enum mode m;
		const char *what;
	} bad[] = {
		{ M_UNSEALED, "memfd without seals" },
		{ M_SHRINKABLE, "memfd that may shrink" },
		{ M_WRONG_SIZE, "memfd larger than announced" },
		{ M_BELL_EVENTFD, "an eventfd for a doorbell" },
		{ M_BELL_DGRAM, "a datagram socket for a doorbell" },
		{ M_EXTRA_FDS, "four fds for two" },
		{ M_EPOCH, "epochs that disagree" },
		{ M_HUGE, "a 64 GiB region" },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vos_ctx *ctx;
		long base, after;
		int err;

		start_fake(bad[i].m);
		base = td_count_fds(getpid());
		ctx = victim(0, false, &err);
		ck_assert_msg(err == -EBADMSG && !ctx, "%s: %d", bad[i].what,
			      err);
		after = td_count_fds(getpid());
		ck_assert_msg(after == base, "%s: fds %ld -> %ld", bad[i].what,
			      base, after);
		printf("refused: %s (fds %ld -> %ld)\n", bad[i].what, base,
		       after);
		stop_fake();
	}
	rmdir(work);
}
END_TEST

/* ---- a header rewritten under the client ----------------------------- */

START_TEST(header_flipped_after_attach)
{
	struct vos_ctx *ctx;
	char path[64], buf[300];
	int err, ok = 0, fd;

	start_fake(M_FLIP);
	/* it may catch the header mid-flip (refused) or sane (accepted);
	 * either way nothing it writes later reaches past the region */
	for (int tries = 0; tries < 50 && !ok; tries++) {
		ctx = victim(0, false, &err);
		if (!ctx) {
			ck_assert_int_eq(err, -EBADMSG);
			continue;
		}
		ok = 1;
		for (int i = 0; i < 2000; i++) {
			memset(path, 'p', sizeof(path) - 1);
			path[sizeof(path) - 1] = '\0';
			fd = vos_openat(ctx, AT_FDCWD, path, O_RDONLY, 0);
			ck_assert_int_ge(fd, 0); /* the fake says fd 0 */
			ck_assert_int_eq(vos_pwrite(ctx, fd, buf, sizeof(buf),
						    0), 0);
			ck_assert_int_eq(vos_nop(ctx), 0);
		}
		vos_ctx_destroy(ctx);
	}
	ck_assert_msg(ok, "never attached while the header flipped");
	printf("header flipping under 6000 calls: no fault, every result "
	       "what the fake answered\n");
	stop_fake();
	rmdir(work);
}
END_TEST

/* ---- a service that stops answering ---------------------------------- */

START_TEST(silent_service_deadlines)
{
	struct vos_ctx *ctx;
	struct vos_req r;
	struct vos_cqe c;
	int64_t t0, dt, dt_call;
	int err;

	start_fake(M_SILENT);
	/* no deadline: a bounded wait says -ETIME, no hang */
	ctx = victim(0, false, &err);
	ck_assert_int_eq(err, 0);
	vos_prep_nop(&r);
	r.user_data = 1;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 100000000), -ETIME);
	/* a per-call deadline: -ETIMEDOUT, and the ring is given up (the
	 * earlier NOP fails with it) */
	vos_prep_nop(&r);
	r.user_data = 2;
	r.deadline_ms = 150;
	t0 = raw_now_ms();
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, -1), 1);
	dt = raw_now_ms() - t0;
	ck_assert_msg(c.user_data == 1 || c.user_data == 2, "%llu",
		      (unsigned long long)c.user_data);
	{
		struct vos_cqe c2;

		ck_assert_int_eq(vos_wait(ctx, &c2, 1, 1, 1000000000), 1);
		if (c.user_data == 1)
			c = c2;
	}
	ck_assert_int_eq(c.res, -ETIMEDOUT);
	ck_assert_msg(dt >= 140 && dt < 1000, "deadline 150 ms, took %lld",
		      (long long)dt);
	dt_call = dt;
	/* the next call attaches afresh */
	ck_assert_int_eq(attaches(1, 1000), 1);
	vos_prep_nop(&r);
	r.deadline_ms = 100;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, -1), 1);
	ck_assert_int_eq(c.res, -ETIMEDOUT);
	ck_assert_int_eq(attaches(2, 2000), 2);
	vos_ctx_destroy(ctx);
	/* a context deadline covers the blocking wrappers */
	ctx = victim(200000000, false, &err);
	ck_assert_int_eq(err, 0);
	t0 = raw_now_ms();
	ck_assert_int_eq(vos_nop(ctx), -ETIMEDOUT);
	dt = raw_now_ms() - t0;
	ck_assert_msg(dt >= 190 && dt < 1000, "took %lld", (long long)dt);
	/* VOS_NO_DEADLINE opts one call out */
	vos_prep_nop(&r);
	r.deadline_ms = VOS_NO_DEADLINE;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 300000000), -ETIME);
	vos_ctx_destroy(ctx);
	printf("silent service: per-call deadline 150 ms -> -ETIMEDOUT after "
	       "%lld ms; context deadline 200 ms -> -ETIMEDOUT after %lld ms; "
	       "no wait without a bound\n", (long long)dt_call, (long long)dt);
	stop_fake();
	rmdir(work);
}
END_TEST

/* A service that takes the ATTACH and never replies: the call that
 * attaches (inside vos_submit) is bounded by the context's deadline. */
START_TEST(mute_at_attach)
{
	struct vos_ctx *ctx;
	struct vos_req r;
	struct vos_cqe c;
	int64_t t0, dt, dt2;
	int err;

	start_fake(M_MUTE);
	ctx = victim(300000000, true, &err); /* lazy: attach at first use */
	ck_assert_int_eq(err, 0);
	t0 = raw_now_ms();
	ck_assert_int_eq(vos_nop(ctx), -ETIMEDOUT);
	dt = raw_now_ms() - t0;
	ck_assert_int_eq(attaches(1, 1000), 1);
	ck_assert_msg(dt >= 290 && dt < 1500, "deadline 300 ms, took %lld",
		      (long long)dt);
	/* vos_submit itself returns within the bound; the call says why */
	vos_prep_nop(&r);
	r.user_data = 7;
	t0 = raw_now_ms();
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	dt2 = raw_now_ms() - t0;
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 1000000000), 1);
	ck_assert_int_eq(c.res, -ETIMEDOUT);
	ck_assert_msg(dt2 >= 290 && dt2 < 1500, "submit took %lld",
		      (long long)dt2);
	vos_ctx_destroy(ctx);
	printf("mute at attach: context deadline 300 ms: vos_nop -ETIMEDOUT "
	       "after %lld ms, vos_submit back after %lld ms\n",
	       (long long)dt, (long long)dt2);
	stop_fake();
	rmdir(work);
}
END_TEST

/* A daemon at its bound on connections that have not spoken closes the
 * oldest silent one (listener.c): a client descheduled between connect
 * and ATTACH is closed so, unanswered.  It tries again until its
 * deadline; a service that drops every try gets an error by then. */
START_TEST(dropped_before_attach)
{
	struct vos_ctx *ctx;
	int64_t t0, dt;
	int err, drops;

	start_fake(M_DROP_FIRST);
	ctx = victim(2000000000, false, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(vos_nop(ctx), 0);
	ck_assert_int_eq(attaches(1, 1000), 1);
	ck_assert_int_eq(seen_drops, 3);
	vos_ctx_destroy(ctx);
	stop_fake();
	seen_attaches = seen_drops = 0;
	start_fake(M_DROP_ALL);
	t0 = raw_now_ms();
	ctx = victim(300000000, false, &err);
	dt = raw_now_ms() - t0;
	ck_assert_ptr_null(ctx);
	ck_assert_msg(err == -ECONNRESET || err == -EPIPE, "err %d", err);
	ck_assert_msg(dt < 1500, "deadline 300 ms, took %lld", (long long)dt);
	fake_said(0, 1, 200); /* collect what the fake said meanwhile */
	drops = seen_drops;
	ck_assert_int_ge(drops, 3);
	ck_assert_int_eq(seen_attaches, 0);
	printf("dropped before attach: 3 connections closed unanswered, the "
	       "4th attached; a service dropping all: %s after %lld ms and "
	       "%d tries (deadline 300 ms)\n", strerror(-err),
	       (long long)dt, drops);
	stop_fake();
	rmdir(work);
}
END_TEST

/* ---- a doorbell made blocking and full under the client -------------- */

START_TEST(blocking_full_doorbell)
{
	struct vos_ctx *ctx;
	struct vos_req r[64];
	int64_t t0, worst = 0;
	int err;

	start_fake(M_BLOCKING_BELL);
	ctx = victim(0, false, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(attaches(1, 2000), 1);
	/* the fake sleeps (NEED_WAKEUP) and never drains: every submit rings
	 * a full doorbell whose description is blocking */
	for (int i = 0; i < 64; i++) {
		vos_prep_nop(&r[i]);
		r[i].user_data = (uint64_t)i;
	}
	for (int i = 0; i < 64; i++) {
		int64_t dt;

		t0 = raw_now_ms();
		ck_assert_int_eq(vos_submit(ctx, &r[i], 1), 1);
		dt = raw_now_ms() - t0;
		worst = dt > worst ? dt : worst;
	}
	ck_assert_msg(worst < 1000, "a submit took %lld ms", (long long)worst);
	printf("blocking, full doorbell: 64 submits, the slowest %lld ms\n",
	       (long long)worst);
	vos_ctx_destroy(ctx);
	stop_fake();
	rmdir(work);
}
END_TEST

/* ---- garbage, lies, wrong sequence words, hang-ups --------------------- */

static void calls_fail_cleanly(enum mode mode, const char *what)
{
	struct vos_ctx *ctx;
	char buf[100];
	int err, bad = 0, fd;
	int64_t worst = 0;

	start_fake(mode);
	ctx = victim(0, true, &err);
	ck_assert_int_eq(err, 0);
	for (int i = 0; i < 100; i++) {
		int64_t t0 = raw_now_ms(), dt;
		int64_t res;

		fd = vos_openat(ctx, AT_FDCWD, "f", O_RDONLY, 0);
		res = fd < 0 ? fd : vos_pread(ctx, fd, buf, sizeof(buf), 0);
		dt = raw_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		/* either an honest answer or an error; a count beyond what
		 * was asked never reaches the program */
		ck_assert_msg(res <= (int64_t)sizeof(buf), "%s: res %lld",
			      what, (long long)res);
		if (res < 0) {
			ck_assert_msg(res == -EIO || res == -ECONNRESET ||
				      res == -EBADF, "%s: %lld", what,
				      (long long)res);
			bad++;
		}
	}
	ck_assert_msg(worst < 5000, "%s: a call took %lld ms", what,
		      (long long)worst);
	ck_assert_int_gt(bad, 0);
	printf("%s: %d of 100 calls failed cleanly, the slowest %lld ms\n",
	       what, bad, (long long)worst);
	vos_ctx_destroy(ctx);
	stop_fake();
	rmdir(work);
}

START_TEST(garbage_completions)
{
	calls_fail_cleanly(M_GARBAGE, "garbage completions");
}
END_TEST

START_TEST(results_beyond_asked)
{
	calls_fail_cleanly(M_LIES, "results beyond what was asked");
}
END_TEST

/* A service that lies about a copy's offset (not moved as the result
 * says, negative) or its count (past what was asked): the program gets
 * -EIO and its offset as it was; the truth gets through. */
START_TEST(copy_offsets_lied)
{
	struct vos_ctx *ctx;
	int err, a, b, eio = 0, good = 0;

	start_fake(M_LOFF);
	ctx = victim(0, true, &err);
	ck_assert_int_eq(err, 0);
	a = vos_openat(ctx, AT_FDCWD, "f", O_RDONLY, 0);
	b = vos_openat(ctx, AT_FDCWD, "g", O_WRONLY, 0);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	for (int i = 0; i < 12; i++) {
		int64_t off = 100;
		ssize_t r = i % 2 ? vos_splice(ctx, a, &off, b, NULL, 10, 0)
				  : vos_copy_file_range(ctx, a, &off, b, NULL,
							10, 0);

		if (i % 4 == 3) {
			ck_assert_int_eq(r, 4);
			ck_assert_int_eq(off, 104);
			good++;
		} else {
			ck_assert_int_eq(r, -EIO);
			ck_assert_int_eq(off, 100);
			eio++;
		}
	}
	printf("copy offsets lied: %d calls -EIO with the offset as it was "
	       "(not moved, negative, past the count), %d honest ones "
	       "through\n", eio, good);
	vos_ctx_destroy(ctx);
	stop_fake();
	rmdir(work);
}
END_TEST

/* Completions whose sequence words are wrong are never taken: the call
 * waits for the right one, and its deadline ends it. */
START_TEST(completions_out_of_sequence)
{
	struct vos_ctx *ctx;
	int64_t t0, dt, worst = 0;
	int err;

	start_fake(M_SEQ);
	ctx = victim(100000000, true, &err);
	ck_assert_int_eq(err, 0);
	for (int i = 0; i < 5; i++) {
		t0 = raw_now_ms();
		/* the fake answers 0 (success), under a wrong word */
		ck_assert_int_eq(vos_nop(ctx), -ETIMEDOUT);
		dt = raw_now_ms() - t0;
		ck_assert_msg(dt >= 90 && dt < 2000, "took %lld", (long long)dt);
		worst = dt > worst ? dt : worst;
	}
	printf("completions out of sequence: 5 of 5 calls ended by their "
	       "100 ms deadline (none took a wrong entry), the slowest "
	       "%lld ms\n", (long long)worst);
	vos_ctx_destroy(ctx);
	stop_fake();
	rmdir(work);
}
END_TEST

START_TEST(hangup_mid_call)
{
	calls_fail_cleanly(M_HANGUP, "hang-up mid-call");
}
END_TEST

/* ---- buffer areas (GROW) ---------------------------------------------- */

/* A GROW never answered: the client gives up within its deadline and
 * hangs up the control connection (a late "ok" would otherwise be taken
 * as the answer to its next GROW, at another offset); the buffer works. */
START_TEST(grow_never_answered)
{
	struct vos_ctx *ctx;
	int64_t t0, dt;
	uint8_t *buf;
	int err;

	start_fake(M_GROW_MUTE);
	ctx = victim(200000000, false, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(vos_nop(ctx), 0);
	t0 = raw_now_ms();
	ck_assert_int_eq(vos_buf_alloc(ctx, 0, 4096, (void **)&buf), 0);
	dt = raw_now_ms() - t0;
	ck_assert_msg(dt >= 190 && dt < 2000, "GROW gave up after %lld ms",
		      (long long)dt);
	ck_assert_msg(fake_said('h', 0, 5000), "the control connection "
		      "stayed open");
	memset(buf, 1, 4096);
	ck_assert_int_eq(vos_buf_free(ctx, buf), 0);
	printf("GROW never answered: buffer given after %lld ms (deadline "
	       "200 ms), control connection hung up\n", (long long)dt);
	vos_ctx_destroy(ctx);
	stop_fake();
	rmdir(work);
}
END_TEST

/* A call on a shared buffer misses its deadline; the service writes into
 * the area afterwards (a read that finished late): the program's buffer,
 * which is its own again once the call failed, does not change. */
START_TEST(late_write_after_deadline)
{
	struct vos_ctx *ctx;
	struct vos_req r;
	struct vos_cqe c;
	uint8_t *buf;
	int err, fd;
	size_t changed = 0;

	start_fake(M_GROW_WRITER);
	ctx = victim(0, false, &err);
	ck_assert_int_eq(err, 0);
	fd = vos_openat(ctx, AT_FDCWD, "f", O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_buf_alloc(ctx, fd, 8192, (void **)&buf), 0);
	memset(buf, 0x11, 8192);
	vos_prep_read(&r, fd, buf, 8192);
	r.deadline_ms = 150;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 5000000000), 1);
	ck_assert_int_eq(c.res, -ETIMEDOUT);
	ck_assert_msg(fake_said('z', 0, 5000), "the read did not name the "
		      "area (it went through a slot)");
	ck_assert_msg(fake_said('w', 0, 5000), "the fake did not write");
	for (size_t i = 0; i < 8192; i++)
		changed += buf[i] != 0x11;
	ck_assert_msg(changed == 0, "%zu bytes of the buffer changed after "
		      "its call failed", changed);
	ck_assert_int_eq(vos_buf_free(ctx, buf), 0);
	printf("late write after a deadline: the service wrote its whole "
	       "area after the call failed; 0 of 8192 bytes of the buffer "
	       "changed\n");
	vos_ctx_destroy(ctx);
	stop_fake();
	rmdir(work);
}
END_TEST

/* A ring that answers a completion the client already took (the service
 * read NEED_WAKEUP set just before the client cleared it) must not make
 * the context's fd readable later, when nothing is there to take: the
 * client drains such rings before it gets ready to sleep. */
START_TEST(stale_ring_not_readable)
{
	struct vos_ctx *ctx;
	struct vos_req r;
	struct pollfd p;
	int err, cfd, n, fd;

	start_fake(M_LATE_RING);
	ctx = victim(10 * 1000000000LL, false, &err); /* (no hang) */
	ck_assert_int_eq(err, 0);
	fd = vos_openat(ctx, AT_FDCWD, "f", O_RDONLY, 0); /* (answered) */
	ck_assert_int_ge(fd, 0);
	cfd = vos_ctx_fd(ctx);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(vos_nop(ctx), 0);
	ck_assert_msg(fake_said('r', 0, 5000), "the fake did not ring");
	/* the stale byte is in the doorbell now; a call the fake holds */
	vos_prep_fsync(&r, fd);
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	p = (struct pollfd){ cfd, POLLIN, 0 };
	n = poll(&p, 1, 200);
	ck_assert_msg(n == 0, "the context's fd became readable with nothing "
		      "to take (a stale ring)");
	printf("stale ring: a ring after the completion was taken left the "
	       "context's fd unreadable for 200 ms while a call waited\n");
	vos_ctx_destroy(ctx);
	stop_fake();
	rmdir(work);
}
END_TEST

/* ---- the control: a well-behaved fake works --------------------------- */

START_TEST(good_fake_works)
{
	struct vos_ctx *ctx;
	int err;

	start_fake(M_GOOD);
	ctx = victim(0, false, &err);
	ck_assert_int_eq(err, 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(vos_nop(ctx), 0);
	vos_ctx_destroy(ctx);
	stop_fake();
	rmdir(work);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fake daemon");
	TCase *t = tcase_create("client end");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, good_fake_works);
	tcase_add_test(t, refuses_bad_offers);
	tcase_add_test(t, header_flipped_after_attach);
	tcase_add_test(t, silent_service_deadlines);
	tcase_add_test(t, mute_at_attach);
	tcase_add_test(t, dropped_before_attach);
	tcase_add_test(t, blocking_full_doorbell);
	tcase_add_test(t, garbage_completions);
	tcase_add_test(t, results_beyond_asked);
	tcase_add_test(t, copy_offsets_lied);
	tcase_add_test(t, completions_out_of_sequence);
	tcase_add_test(t, hangup_mid_call);
	tcase_add_test(t, grow_never_answered);
	tcase_add_test(t, late_write_after_deadline);
	tcase_add_test(t, stale_ring_not_readable);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
