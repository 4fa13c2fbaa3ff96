/*
 * config.c - a daemon's configuration: built-in defaults, then the config
 * file, then the command line (each overrides the one before).
 *
 * The file has one "key = value" per line ('#' starts a comment); its
 * keys are the long flags without "--" (and "foreground = yes|no").
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server.h"

static int number(const char *key, const char *val, unsigned min,
		  unsigned max, unsigned *out)
{
	char *e;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &e, 10);
	if (!*val || *e || errno || v < min || v > max || *val == '-') {
		fprintf(stderr, "%s: %s must be a number from %u to %u, not "
			"'%s'\n", srv.svc->name, key, min, max, val);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int number_int(const char *key, const char *val, unsigned min,
		      unsigned max, int *out)
{
	unsigned v;

	if (number(key, val, min, max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int copy(const char *key, const char *val, char *dst, size_t cap)
{
	if (strlen(val) >= cap) {
		fprintf(stderr, "%s: %s is too long (at most %zu bytes)\n",
			srv.svc->name, key, cap - 1);
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

/* Apply one setting.  0, or -1 after saying what is wrong. */
static int apply(const char *key, const char *val)
{
	struct srv_config *c = &srv.cfg;
	int r;

	if (strcmp(key, "socket") == 0)
		return copy(key, val, c->socket_path, sizeof(c->socket_path));
	if (strcmp(key, "pidfile") == 0)
		return copy(key, val, c->pidfile, sizeof(c->pidfile));
	if (strcmp(key, "engine") == 0)
		return copy(key, val, c->engine_options,
			    sizeof(c->engine_options));
	if (strcmp(key, "workers") == 0)
		return number(key, val, 0, SRV_MAX_WORKERS, &c->workers);
	if (strcmp(key, "spin-us") == 0)
		return number(key, val, 0, 1000000, &c->spin_us);
	if (strcmp(key, "max-inflight") == 0)
		return number(key, val, 1, 4096, &c->max_inflight);
	if (strcmp(key, "max-inflight-uid") == 0)
		return number(key, val, 1, 1u << 20, &c->max_inflight_uid);
	if (strcmp(key, "max-parked-uid") == 0)
		return number(key, val, 1, SRV_PARKED_SOFT,
			      &c->max_parked_uid);
	if (strcmp(key, "max-clients") == 0)
		return number(key, val, 1, 65536, &c->max_clients);
	if (strcmp(key, "max-clients-uid") == 0)
		return number(key, val, 1, 65536, &c->max_clients_uid);
	if (strcmp(key, "max-fds") == 0) {
		c->set_max_fds = true;
		return number(key, val, 1, SRV_FD_LIMIT, &c->max_fds);
	}
	if (strcmp(key, "max-fds-uid") == 0) {
		c->set_max_fds_uid = true;
		return number(key, val, 1, 1u << 24, &c->max_fds_uid);
	}
	if (strcmp(key, "max-pending") == 0)
		return number(key, val, 1, 65536, &c->max_pending);
	if (strcmp(key, "max-pending-uid") == 0)
		return number(key, val, 1, 65536, &c->max_pending_uid);
	if (strcmp(key, "attach-timeout-ms") == 0)
		return number(key, val, 10, 600000, &c->attach_timeout_ms);
	if (strcmp(key, "slow-threads") == 0)
		return number(key, val, 1, 1024, &c->slow_threads);
	if (strcmp(key, "max-slow") == 0)
		return number(key, val, 1, 1024, &c->max_slow);
	if (strcmp(key, "max-slow-uid") == 0)
		return number(key, val, 1, 1024, &c->max_slow_uid);
	if (strcmp(key, "lock-threads") == 0)
		return number(key, val, 1, 1024, &c->lock_threads);
	if (strcmp(key, "max-lock-waits") == 0)
		return number(key, val, 1, 1024, &c->max_lock_waits);
	if (strcmp(key, "max-lock-waits-uid") == 0)
		return number(key, val, 1, 1024, &c->max_lock_waits_uid);
	if (strcmp(key, "max-region-mib-uid") == 0)
		return number(key, val, 1, 1u << 22, &c->max_region_mib_uid);
	if (strcmp(key, "max-grow-mib") == 0)
		return number(key, val, 0, 4095, &c->max_grow_mib);
	if (strcmp(key, "socket-mode") == 0) {
		char *e;
		unsigned long v = strtoul(val, &e, 8);

		if (!*val || *e || v > 0777) {
			fprintf(stderr, "%s: socket-mode must be octal, 0 to "
				"0777, not '%s'\n", srv.svc->name, val);
			return -1;
		}
		c->socket_mode = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "socket-group") == 0)
		return copy(key, val, c->socket_group, sizeof(c->socket_group));
	if (strcmp(key, "max-entries") == 0)
		return number(key, val, 1, VOS_WIRE_MAX_ENTRIES,
			      &c->max_entries);
	if (strcmp(key, "max-slot") == 0)
		return number(key, val, VOS_WIRE_MIN_SLOT, VOS_WIRE_MAX_SLOT,
			      &c->max_slot);
	if (strcmp(key, "log-level") == 0)
		return number_int(key, val, 0, 2, &c->log_level);
	if (strcmp(key, "ready-fd") == 0)
		return number_int(key, val, 0, 65535, &c->ready_fd);
	if (strcmp(key, "foreground") == 0) {
		c->foreground = strcmp(val, "yes") == 0 || strcmp(val, "1") == 0;
		return 0;
	}
	if (strcmp(key, "fault-inject") == 0) {
		if (strcmp(val, "garbage") != 0 && strcmp(val, "none") != 0) {
			fprintf(stderr, "%s: fault-inject takes 'garbage' or "
				"'none'\n", srv.svc->name);
			return -1;
		}
		c->fault_garbage = strcmp(val, "garbage") == 0;
		return 0;
	}
	r = srv.svc->option ? srv.svc->option(key, val) : 0;
	if (r == 0)
		fprintf(stderr, "%s: unknown setting '%s' (see --help)\n",
			srv.svc->name, key);
	return r == 1 ? 0 : -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(const char *path, bool must_exist)
{
	char line[512];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		if (!must_exist && errno == ENOENT)
			return 0;
		fprintf(stderr, "%s: cannot read %s: %s\n", srv.svc->name,
			path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k, *eq, *hash = strchr(line, '#');

		lineno++;
		if (hash)
			*hash = '\0';
		k = trim(line);
		if (!*k)
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			fprintf(stderr, "%s: %s:%u: expected 'key = value'\n",
				srv.svc->name, path, lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		if (apply(trim(k), trim(eq + 1)) < 0) {
			fprintf(stderr, "%s: in %s:%u\n", srv.svc->name, path,
				lineno);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

void srv_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [OPTION]...\n"
		"%s\n\n"
		"Serves libvirtuos clients over the shared-memory ring protocol\n"
		"(shm transport) on a Unix socket.  Settings come from the config\n"
		"file, then from these flags.\n\n"
		"  -c, --config FILE     config file (default /etc/virtuos/%s.conf,\n"
		"                        read if it exists)\n"
		"  -s, --socket PATH     control socket (default %s)\n"
		"  -f, --foreground      stay in the foreground (for systemd);\n"
		"                        otherwise detach and run as a daemon\n"
		"      --pidfile FILE    write the daemon's pid here\n"
		"      --workers N       worker threads (default: one per CPU)\n"
		"      --spin-us N       a worker spins this long before sleeping\n"
		"                        (default 50; at most one spinning per CPU)\n"
		"      --socket-mode MODE  the socket's permissions, octal (default\n"
		"                        0666: any local user may be a client)\n"
		"      --socket-group GROUP  the socket's group (name or number)\n"
		"\n"
		"Bounds (per client and per uid, so no user can take the daemon\n"
		"from the others; doc/security.md):\n"
		"      --max-inflight N  requests one client may have running\n"
		"                        (default 256)\n"
		"      --max-inflight-uid N  ... all clients of one uid on one\n"
		"                        worker (its engine; default 1024)\n"
		"      --max-parked-uid N  requests waiting for a peer (recv,\n"
		"                        accept, poll: anything on a socket) of\n"
		"                        one uid on one worker (default 8192, at\n"
		"                        most 16384); they do not count as\n"
		"                        running.  Past 16384 parked on a worker\n"
		"                        each uid there gets its share only\n"
		"      --max-clients N   attached clients (default 1024)\n"
		"      --max-clients-uid N  ... of one uid (default 64)\n"
		"      --max-fds N       open fds per client (default: 1024, or\n"
		"                        RLIMIT_NOFILE/16 if that is less)\n"
		"      --max-fds-uid N   ... all clients of one uid (default:\n"
		"                        RLIMIT_NOFILE/4, at most 8192)\n"
		"      --max-pending N   connections not yet attached (default 64)\n"
		"      --max-pending-uid N  ... of one uid (default 8)\n"
		"      --attach-timeout-ms N  for them to attach (default 2000)\n"
		"      --slow-threads N  threads for calls that may block, such as\n"
		"                        opening a FIFO (default 16)\n"
		"      --max-slow N      such calls running per client (default 2)\n"
		"      --max-slow-uid N  ... per uid (default 4)\n"
		"      --lock-threads N  threads for record lock waits (F_SETLKW),\n"
		"                        apart from those (default 16)\n"
		"      --max-lock-waits N  lock waits per client (default 8)\n"
		"      --max-lock-waits-uid N  ... per uid (default 12)\n"
		"      --max-region-mib-uid N  shared memory of one uid's clients,\n"
		"                        MiB, their buffer areas included (1024)\n"
		"      --max-grow-mib N  buffer areas one client may share (GROW:\n"
		"                        vos_buf_alloc), MiB, in at most 16 areas;\n"
		"                        0: none (default 256)\n"
		"      --max-entries N   largest ring a client may ask for (16384)\n"
		"      --max-slot BYTES  largest data slot per request (1048576)\n"
		"      --engine OPTS     io_uring-local options for the executor,\n"
		"                        e.g. backend=compat\n"
		"      --log-level N     0 errors, 1 attach/detach (default), 2 debug\n"
		"      --ready-fd N      write \"ready\" to fd N once serving\n"
		"      --fault-inject garbage\n"
		"                        testing only: write garbage completions\n"
		"  -h, --help            this text\n"
		"      --version         the version\n"
		"%s\n"
		"SIGTERM or SIGINT: stop cleanly (clients see their calls fail).\n"
		"See %s(8).\n",
		srv.svc->name, srv.svc->summary, srv.svc->name,
		srv.svc->default_socket,
		srv.svc->extra_help ? srv.svc->extra_help : "", srv.svc->name);
}

/*
 * The fd bounds that were not set follow the daemon's own limit, raised
 * to its hard limit first: a client may hold at most 1/16 of it (at most
 * 1024), a uid 1/4 (at most 8192), so that neither one client nor one
 * user can run the daemon out of fds for the others.  Set ones are
 * clamped to the same fractions.
 */
void srv_config_limits(void)
{
	struct srv_config *c = &srv.cfg;
	struct rlimit rl;
	unsigned nofile = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		nofile = rl.rlim_cur > (1u << 24) ? (1u << 24)
						  : (unsigned)rl.rlim_cur;
	}
	/* all clients together: what the limit leaves after the daemon's
	 * own (two per client, the pending connections, engines, pools) */
	{
		uint64_t own = 2ull * c->max_clients + c->max_pending + 256;

		srv.max_fds_total = nofile > own + 64 ? (unsigned)(nofile - own)
						      : nofile / 2;
	}
	/* the defaults stay well below the limit; what a flag or the file
	 * asks for is kept, up to what all clients together may have (and
	 * the log line at start says what is in force) */
	if (!c->set_max_fds)
		c->max_fds = nofile / 16 < 1024 ? nofile / 16 : 1024;
	else if (c->max_fds > srv.max_fds_total)
		c->max_fds = srv.max_fds_total;
	if (!c->set_max_fds_uid)
		c->max_fds_uid = nofile / 4 < 8192 ? nofile / 4 : 8192;
	else if (c->max_fds_uid > srv.max_fds_total)
		c->max_fds_uid = srv.max_fds_total;
	if (c->max_fds < 1)
		c->max_fds = 1;
	if (c->max_fds_uid < c->max_fds)
		c->max_fds_uid = c->max_fds;
}

/* 0: go on; 1: exit 0 (help/version printed); -1: exit 2. */
int srv_config_parse(int argc, char **argv)
{
	struct srv_config *c = &srv.cfg;
	char path[256];
	bool explicit_config = false;

	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s",
		 srv.svc->default_socket);
	c->spin_us = 50;
	c->max_inflight = 256;
	c->max_inflight_uid = 1024;
	c->max_parked_uid = SRV_PARKED_SOFT / 2;
	c->max_clients = 1024;
	c->max_clients_uid = 64;
	c->max_pending = 64;
	c->max_pending_uid = 8;
	c->attach_timeout_ms = 2000;
	c->slow_threads = 16;
	c->max_slow = 2;
	c->max_slow_uid = 4;
	c->lock_threads = 16;
	c->max_lock_waits = 8;
	c->max_lock_waits_uid = 12;
	c->max_region_mib_uid = 1024;
	c->max_grow_mib = 256;
	c->socket_mode = 0666;
	c->max_entries = VOS_WIRE_MAX_ENTRIES;
	c->max_slot = VOS_WIRE_MAX_SLOT;
	c->log_level = 1;
	c->ready_fd = -1;
	snprintf(path, sizeof(path), "/etc/virtuos/%s.conf", srv.svc->name);

	/* pass 1: help, version, and which config file */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			srv_usage(stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("%s (libvirtuos) %s\n", srv.svc->name,
			       PACKAGE_VERSION);
			return 1;
		}
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
		    i + 1 < argc) {
			snprintf(path, sizeof(path), "%s", argv[++i]);
			explicit_config = true;
		}
	}
	if (load_file(path, explicit_config) < 0)
		return -1;
	/* pass 2: flags override the file */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *key;

		if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			i++;
			continue;
		}
		if (!strcmp(a, "-f") || !strcmp(a, "--foreground")) {
			c->foreground = true;
			continue;
		}
		if (!strcmp(a, "-s"))
			key = "socket";
		else if (!strncmp(a, "--", 2) && a[2])
			key = a + 2;
		else {
			fprintf(stderr, "%s: unexpected argument '%s' (see "
				"--help)\n", srv.svc->name, a);
			return -1;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "%s: %s needs a value\n",
				srv.svc->name, a);
			return -1;
		}
		if (apply(key, argv[++i]) < 0)
			return -1;
	}
	return 0;
}
