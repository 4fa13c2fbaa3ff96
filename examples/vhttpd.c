/*
 * vhttpd - a static-file HTTP/1.1 server on one thread, on the vos API.
 *
 * GET and HEAD, keep-alive (HTTP/1.1 default, "Connection: close" honoured,
 * pipelined requests served in order), Content-Length on every response,
 * index.html for directories, 400/403/404/405/431/500 with a short body,
 * idle connections closed after --idle-timeout seconds.
 *
 * Nothing above the root is served: a target with a ".." segment gets 403,
 * and after every open the server checks, through /proc/self/fd, that the
 * file it opened lies under the root, so a symlink pointing out is 403 too.
 * When a routes file sends the root to a storage service (stord), that
 * service confines every path to its export instead (EXDEV -> 403).
 *
 * Every step of a request (recv, openat, statx, pread, send, close) is one
 * vos request whose user_data is the connection; one is in flight per
 * connection at a time.
 */
#define _GNU_SOURCE /* accept4, signalfd, statx, strcasestr */
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "number_arg.h"
#include "request_queue.h"
#include "server_lifecycle.h"

#define REQ_MAX 8192
#define BODY_CHUNK (64 * 1024)

enum { UD_ACCEPT = 1, UD_STOP = 2, UD_TICK = 3 };

enum state {
	S_RECV,       /* reading a request head */
	S_OPEN,       /* openat of the target */
	S_OPEN_INDEX, /* openat of index.html in a directory */
	S_STAT,       /* statx of the opened file */
	S_SEND_HEAD,  /* sending the status line and headers */
	S_READ,       /* pread of the next body chunk */
	S_SEND_BODY,  /* sending it */
	S_CLOSE,      /* closing the connection */
};

struct conn {
	struct conn *prev, *next;
	int fd, file;
	enum state state;
	bool keep_alive, head, indexed;
	uint32_t req_len, req_end;    /* bytes in req; end of current head */
	uint32_t out_len, out_sent;   /* the head being sent */
	uint32_t chunk_len, chunk_sent;
	uint64_t file_off, file_size;
	int64_t last_active;          /* ns, for the idle timeout */
	struct statx stx;
	char req[REQ_MAX];
	char out[1024];
	char *body;                   /* BODY_CHUNK, allocated when needed */
	char path[PATH_MAX];
};

struct server {
	struct vos_ctx *ctx;
	int lfd, rootfd, max_conns, nconns, idle_timeout;
	bool check_links; /* the root is a local directory: check each open */
	char root[PATH_MAX];
	size_t root_len;
	bool accepting, stopping, failed;
	struct conn *conns;
	struct request_queue next; /* to submit at the end of this round */
	unsigned long long requests;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vhttpd [options]\n"
"A static-file HTTP/1.1 server on one thread (libvirtuos async API).\n"
"\n"
"  -R, --root DIR          directory to serve (default .)\n"
"  -b, --bind ADDR         IPv4 address to listen on (default 127.0.0.1)\n"
"  -p, --port N            port (default 8080; 0: any free port)\n"
"  -c, --max-conns N       connections at once (default 512)\n"
"  -i, --idle-timeout SEC  close idle connections after SEC (default 30)\n"
"  -r, --ready-fd FD       when listening, write the port and a newline\n"
"                          to FD and close it\n"
"  -h, --help              this text\n"
"\n"
"Serves GET and HEAD with keep-alive; index.html for directories; never\n"
"anything outside DIR (\"..\" and symlinks out of DIR get 403).\n"
"The transport comes from $VOS_TRANSPORT; by default it is io_uring-local,\n"
"or routed to netd/stord when a routes file ($VOS_ROUTES) exists.\n"
"SIGINT or SIGTERM stops the server.\n");
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void queue_conn(struct server *s, struct conn *c, struct vos_req *r,
		       enum state st)
{
	c->state = st;
	rq_add(&s->next, r, (uint64_t)(uintptr_t)c);
}

static const char *content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".htm", "text/html; charset=utf-8" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".css", "text/css" },
		{ ".js", "text/javascript" },
		{ ".json", "application/json" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".jpg", "image/jpeg" },
		{ ".jpeg", "image/jpeg" },
		{ ".gif", "image/gif" },
		{ ".ico", "image/x-icon" },
		{ ".pdf", "application/pdf" },
	};
	const char *dot = strrchr(path, '.');

	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

/* ---- responses ---------------------------------------------------------- */

static void send_head(struct server *s, struct conn *c)
{
	struct vos_req r;

	/* MSG_MORE: let the kernel put the head and the body together */
	vos_prep_send(&r, c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
		      MSG_NOSIGNAL | (c->file >= 0 && !c->head ? MSG_MORE : 0));
	queue_conn(s, c, &r, S_SEND_HEAD);
}

/* A complete response with a short text body; the connection stays open
 * unless close_after. */
static void respond_error(struct server *s, struct conn *c, int code,
			  const char *reason, bool close_after)
{
	char body[128];
	int blen = snprintf(body, sizeof(body), "%d %s\n", code, reason);

	if (close_after)
		c->keep_alive = false;
	c->out_len = (uint32_t)snprintf(c->out, sizeof(c->out),
		"HTTP/1.1 %d %s\r\n"
		"Server: vhttpd\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: %d\r\n"
		"%s"
		"Connection: %s\r\n\r\n%s",
		code, reason, blen,
		code == 405 ? "Allow: GET, HEAD\r\n" : "",
		c->keep_alive ? "keep-alive" : "close",
		c->head ? "" : body);
	c->out_sent = 0;
	send_head(s, c);
}

static void respond_file(struct server *s, struct conn *c)
{
	c->file_size = c->stx.stx_size;
	c->file_off = 0;
	c->out_len = (uint32_t)snprintf(c->out, sizeof(c->out),
		"HTTP/1.1 200 OK\r\n"
		"Server: vhttpd\r\n"
		"Content-Type: %s\r\n"
		"Content-Length: %llu\r\n"
		"Connection: %s\r\n\r\n",
		content_type(c->path), (unsigned long long)c->file_size,
		c->keep_alive ? "keep-alive" : "close");
	c->out_sent = 0;
	send_head(s, c);
}

/* ---- request parsing ----------------------------------------------------- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/*
 * Turn the request target into a path relative to the root in out.
 * Returns 0, or the HTTP status to answer with (400 malformed, 403 "..",
 * 414 too long).
 */
static int target_to_path(const char *t, size_t tlen, char *out, size_t cap)
{
	size_t o = 0;

	if (tlen == 0 || t[0] != '/')
		return 400; /* origin-form only */
	for (size_t i = 0; i < tlen && t[i] != '?' && t[i] != '#'; i++) {
		char ch = t[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= tlen || (hi = hexval(t[i + 1])) < 0 ||
			    (lo = hexval(t[i + 2])) < 0)
				return 400;
			ch = (char)(hi * 16 + lo);
			i += 2;
			if (ch == '\0')
				return 400;
		}
		if (o + 2 >= cap)
			return 414;
		out[o++] = ch;
	}
	out[o] = '\0';
	/* check every segment of the decoded path */
	for (char *seg = out; *seg;) {
		char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);

		if (len == 2 && seg[0] == '.' && seg[1] == '.')
			return 403;
		seg += len + (end ? 1 : 0);
	}
	/* relative to the root: drop leading slashes; "" is the root */
	{
		size_t skip = strspn(out, "/");

		memmove(out, out + skip, strlen(out + skip) + 1);
		if (!out[0])
			strcpy(out, ".");
	}
	return 0;
}

/* Copy the value of header name (case-insensitive) from the request head
 * into val, trimmed; false if the header is absent. */
static bool header_value(const char *head, const char *name, char *val,
			 size_t cap)
{
	size_t nlen = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *eol = strstr(line, "\r\n"), *v;
		size_t vlen;

		if (!eol || eol == line)
			break;
		if ((size_t)(eol - line) <= nlen || line[nlen] != ':' ||
		    strncasecmp(line, name, nlen) != 0)
			continue;
		for (v = line + nlen + 1; v < eol && (*v == ' ' || *v == '\t');)
			v++;
		vlen = (size_t)(eol - v);
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (vlen >= cap)
			vlen = cap - 1;
		memcpy(val, v, vlen);
		val[vlen] = '\0';
		return true;
	}
	return false;
}

/* Does header name's value contain token (case-insensitive)? */
static bool header_has(const char *head, const char *name, const char *token)
{
	char val[256];

	return header_value(head, name, val, sizeof(val)) &&
	       strcasestr(val, token);
}

static void start_request(struct server *s, struct conn *c);

/* The head of a request is in c->req[0..req_end): act on it. */
static void handle_request(struct server *s, struct conn *c)
{
	char *head = c->req, *sp1, *sp2, *eol;
	struct vos_req r;
	int status;

	s->requests++;
	head[c->req_end - 2] = '\0'; /* keep one CRLF for header_has */
	eol = strstr(head, "\r\n");
	if (!eol)
		eol = head + strlen(head);
	sp1 = memchr(head, ' ', (size_t)(eol - head));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	c->head = sp1 && (size_t)(sp1 - head) == 4 &&
		  strncmp(head, "HEAD", 4) == 0;
	c->keep_alive = false;
	if (!sp1 || !sp2) {
		respond_error(s, c, 400, "Bad Request", true);
		return;
	}
	if ((size_t)(eol - sp2 - 1) == 8 && strncmp(sp2 + 1, "HTTP/1.1", 8) == 0)
		c->keep_alive = !header_has(head, "Connection", "close");
	else if ((size_t)(eol - sp2 - 1) == 8 &&
		 strncmp(sp2 + 1, "HTTP/1.0", 8) == 0)
		c->keep_alive = header_has(head, "Connection", "keep-alive");
	else {
		respond_error(s, c, 400, "Bad Request", true);
		return;
	}
	if (!c->head && !((size_t)(sp1 - head) == 3 &&
			  strncmp(head, "GET", 3) == 0)) {
		respond_error(s, c, 405, "Method Not Allowed", false);
		return;
	}
	/* we read no request bodies: refuse them rather than misparse */
	{
		char val[32];

		if (header_value(head, "Transfer-Encoding", val, sizeof(val)) ||
		    (header_value(head, "Content-Length", val, sizeof(val)) &&
		     strcmp(val, "0") != 0)) {
			respond_error(s, c, 400, "Bad Request", true);
			return;
		}
	}
	status = target_to_path(sp1 + 1, (size_t)(sp2 - sp1 - 1), c->path,
				sizeof(c->path));
	if (status == 403) {
		respond_error(s, c, 403, "Forbidden", false);
		return;
	}
	if (status) {
		respond_error(s, c, status, status == 414 ? "URI Too Long"
						      : "Bad Request", true);
		return;
	}
	/* O_NONBLOCK: opening a FIFO must not stall the server */
	c->indexed = false;
	vos_prep_openat(&r, s->rootfd, c->path,
			O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
	queue_conn(s, c, &r, S_OPEN);
}

/* Is the opened fd under the root?  (Catches symlinks that lead out.) */
static bool under_root(struct server *s, int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return false;
	path[n] = '\0';
	if (s->root_len == 1) /* the root is "/" */
		return true;
	return strncmp(path, s->root, s->root_len) == 0 &&
	       (path[s->root_len] == '\0' || path[s->root_len] == '/');
}

static void close_file(struct server *s, struct conn *c)
{
	if (c->file >= 0)
		vos_close(s->ctx, c->file);
	c->file = -1;
}

static void close_conn(struct server *s, struct conn *c)
{
	struct vos_req r;

	close_file(s, c);
	vos_prep_close(&r, c->fd);
	queue_conn(s, c, &r, S_CLOSE);
}

static void queue_recv(struct server *s, struct conn *c)
{
	struct vos_req r;

	vos_prep_recv(&r, c->fd, c->req + c->req_len, REQ_MAX - c->req_len, 0);
	queue_conn(s, c, &r, S_RECV);
}

/* Look for a complete head in what we have; serve it or read more. */
static void start_request(struct server *s, struct conn *c)
{
	char *end;

	c->req[c->req_len] = '\0';
	end = c->req_len >= 4 ? strstr(c->req, "\r\n\r\n") : NULL;
	if (end) {
		c->req_end = (uint32_t)(end - c->req) + 4;
		handle_request(s, c);
	} else if (c->req_len == REQ_MAX - 1 || memchr(c->req, '\0', c->req_len)) {
		c->req_end = c->req_len;
		c->head = false;
		respond_error(s, c, 431, "Request Header Fields Too Large",
			      true);
	} else {
		queue_recv(s, c);
	}
}

/* The response is out: next request on this connection, or close. */
static void finish_request(struct server *s, struct conn *c)
{
	close_file(s, c);
	if (!c->keep_alive || s->stopping) {
		close_conn(s, c);
		return;
	}
	/* keep pipelined bytes that came after this request */
	memmove(c->req, c->req + c->req_end, c->req_len - c->req_end);
	c->req_len -= c->req_end;
	c->req_end = 0;
	start_request(s, c);
}

static void read_chunk(struct server *s, struct conn *c)
{
	uint64_t left = c->file_size - c->file_off;
	struct vos_req r;

	if (!c->body && !(c->body = malloc(BODY_CHUNK))) {
		close_conn(s, c);
		return;
	}
	vos_prep_pread(&r, c->file, c->body,
		       (uint32_t)(left < BODY_CHUNK ? left : BODY_CHUNK),
		       c->file_off);
	queue_conn(s, c, &r, S_READ);
}

static void send_chunk(struct server *s, struct conn *c)
{
	struct vos_req r;

	vos_prep_send(&r, c->fd, c->body + c->chunk_sent,
		      c->chunk_len - c->chunk_sent, MSG_NOSIGNAL);
	queue_conn(s, c, &r, S_SEND_BODY);
}

static void unlink_conn(struct server *s, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->body);
	free(c);
	s->nconns--;
}

static void queue_accept(struct server *s);

static void on_conn(struct server *s, struct conn *c, int64_t res)
{
	struct vos_req r;

	c->last_active = now_ns();
	switch (c->state) {
	case S_RECV:
		if (res <= 0) {
			close_conn(s, c);
			return;
		}
		c->req_len += (uint32_t)res;
		start_request(s, c);
		return;
	case S_OPEN:
	case S_OPEN_INDEX:
		if (c->state == S_OPEN_INDEX)
			close_file(s, c); /* the directory */
		if (res == -ENOENT || res == -ENOTDIR || res == -ELOOP ||
		    res == -ENXIO) {
			respond_error(s, c, 404, "Not Found", false);
			return;
		}
		if (res == -EACCES || res == -EPERM || res == -EXDEV) {
			/* EXDEV: a storage service refused a path out of
			 * its export */
			respond_error(s, c, 403, "Forbidden", false);
			return;
		}
		if (res < 0) {
			respond_error(s, c, 500, "Internal Server Error", true);
			return;
		}
		c->file = (int)res;
		if (s->check_links && !under_root(s, c->file)) {
			close_file(s, c);
			respond_error(s, c, 403, "Forbidden", false);
			return;
		}
		vos_prep_statx(&r, c->file, "", AT_EMPTY_PATH,
			       STATX_TYPE | STATX_SIZE, &c->stx);
		queue_conn(s, c, &r, S_STAT);
		return;
	case S_STAT:
		if (res < 0) {
			close_file(s, c);
			respond_error(s, c, 500, "Internal Server Error", true);
			return;
		}
		if (S_ISDIR(c->stx.stx_mode) && !c->indexed &&
		    strlen(c->path) + 12 < sizeof(c->path)) {
			/* serve the directory's index.html */
			c->indexed = true;
			strcat(c->path, "/index.html");
			vos_prep_openat(&r, c->file, "index.html",
					O_RDONLY | O_CLOEXEC | O_NOCTTY |
						O_NONBLOCK, 0);
			queue_conn(s, c, &r, S_OPEN_INDEX);
			return;
		}
		if (!S_ISREG(c->stx.stx_mode)) {
			close_file(s, c);
			respond_error(s, c, 404, "Not Found", false);
			return;
		}
		respond_file(s, c);
		return;
	case S_SEND_HEAD:
		if (res <= 0) {
			close_conn(s, c);
			return;
		}
		c->out_sent += (uint32_t)res;
		if (c->out_sent < c->out_len)
			send_head(s, c);
		else if (c->file >= 0 && !c->head && c->file_size > 0)
			read_chunk(s, c);
		else
			finish_request(s, c);
		return;
	case S_READ:
		if (res <= 0) {
			/* the file shrank: Content-Length can't be kept */
			close_conn(s, c);
			return;
		}
		c->chunk_len = (uint32_t)res;
		c->chunk_sent = 0;
		c->file_off += (uint64_t)res;
		send_chunk(s, c);
		return;
	case S_SEND_BODY:
		if (res <= 0) {
			close_conn(s, c);
			return;
		}
		c->chunk_sent += (uint32_t)res;
		if (c->chunk_sent < c->chunk_len)
			send_chunk(s, c);
		else if (c->file_off < c->file_size)
			read_chunk(s, c);
		else
			finish_request(s, c);
		return;
	case S_CLOSE:
		unlink_conn(s, c);
		queue_accept(s);
		return;
	}
}

static void queue_accept(struct server *s)
{
	struct vos_req r;

	if (s->accepting || s->stopping || s->nconns >= s->max_conns)
		return;
	vos_prep_accept(&r, s->lfd, NULL, NULL, SOCK_CLOEXEC);
	rq_add(&s->next, &r, UD_ACCEPT);
	s->accepting = true;
}

static void on_accept(struct server *s, int64_t res)
{
	struct conn *c;

	s->accepting = false;
	if (res >= 0 && (c = calloc(1, sizeof(*c)))) {
		c->fd = (int)res;
		c->file = -1;
		c->last_active = now_ns();
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		queue_recv(s, c);
	} else if (res >= 0) {
		vos_close(s->ctx, (int)res);
	} else if (res != -ECANCELED) {
		fprintf(stderr, "vhttpd: accept: %s\n", strerror((int)-res));
		if (lc_listener_gone(res)) {
			fprintf(stderr, "vhttpd: the listening socket is gone; "
				"stopping\n");
			s->stopping = s->failed = true;
			return;
		}
	}
	queue_accept(s);
}

/* Once a second: end connections idle too long, waiting for a request. */
static void on_tick(struct server *s)
{
	int64_t limit = now_ns() - (int64_t)s->idle_timeout * 1000000000;
	struct vos_req r;

	for (struct conn *c = s->conns; c; c = c->next)
		if (c->state == S_RECV && c->last_active < limit)
			vos_shutdown(s->ctx, c->fd, SHUT_RDWR);
	if (!s->stopping) {
		vos_prep_timeout(&r, 1000000000);
		rq_add(&s->next, &r, UD_TICK);
	}
}

static void stop(struct server *s)
{
	s->stopping = true;
	if (s->accepting)
		vos_cancel(s->ctx, UD_ACCEPT);
	vos_cancel(s->ctx, UD_TICK);
	/* requests in progress finish; idle connections see EOF now */
	for (struct conn *c = s->conns; c; c = c->next)
		if (c->state == S_RECV)
			vos_shutdown(s->ctx, c->fd, SHUT_RDWR);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'R' },
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "max-conns", required_argument, NULL, 'c' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = ".", *bind_addr = "127.0.0.1";
	int port = 8080, ready_fd = -1, opt, stopfd, ret;
	struct server s = { .max_conns = 512, .idle_timeout = 30 };
	struct signalfd_siginfo si;
	struct vos_config cfg;
	struct vos_cqe cqes[256];
	struct vos_req r;

	while ((opt = getopt_long(argc, argv, "R:b:p:c:i:r:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'R': root = optarg; break;
		case 'b': bind_addr = optarg; break;
		case 'p': port = number_arg("--port", optarg, 0, 65535); break;
		case 'c':
			s.max_conns = number_arg("--max-conns", optarg, 1, 4000);
			break;
		case 'i':
			s.idle_timeout =
				number_arg("--idle-timeout", optarg, 1, 86400);
			break;
		case 'r':
			ready_fd = number_arg("--ready-fd", optarg, 0, 1 << 20);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!realpath(root, s.root)) {
		fprintf(stderr, "vhttpd: %s: %s\n", root, strerror(errno));
		return 1;
	}
	s.root_len = strlen(s.root);

	vos_config_init(&cfg);
	/* a request per connection, the accept, the tick, the stop read */
	cfg.queue_depth = (uint32_t)s.max_conns + 3;
	ret = vos_ctx_create(&cfg, &s.ctx);
	if (ret < 0) {
		fprintf(stderr, "vhttpd: vos_ctx_create: %s\n", strerror(-ret));
		return 1;
	}
	s.rootfd = vos_openat(s.ctx, AT_FDCWD, s.root,
			      O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (s.rootfd < 0) {
		fprintf(stderr, "vhttpd: %s: %s\n", s.root, strerror(-s.rootfd));
		return 1;
	}
	/* If the root is served by a storage service (a routes file sends
	 * its prefix to stord), its fd is a placeholder that /proc cannot
	 * resolve, and the service confines every path to its export. */
	s.check_links = under_root(&s, s.rootfd);
	if (!s.check_links)
		fprintf(stderr, "vhttpd: %s is served by a storage service; "
			"its confinement applies\n", s.root);
	ret = rq_init(&s.next, cfg.queue_depth);
	stopfd = lc_stop_fd();
	s.lfd = lc_listen(s.ctx, bind_addr, port, 1024, &port);
	if (ret < 0 || stopfd < 0 || s.lfd < 0) {
		fprintf(stderr, "vhttpd: cannot listen on %s:%d: %s\n",
			bind_addr, port, strerror(s.lfd < 0 ? -s.lfd : ENOMEM));
		return 1;
	}
	fprintf(stderr, "vhttpd: serving %s on http://%s:%d/ (%s)\n", s.root,
		bind_addr, port, vos_ctx_describe(s.ctx));
	lc_announce(ready_fd, port);

	vos_prep_read(&r, stopfd, &si, sizeof(si));
	rq_add(&s.next, &r, UD_STOP);
	vos_prep_timeout(&r, 1000000000);
	rq_add(&s.next, &r, UD_TICK);
	queue_accept(&s);

	while (!s.stopping || s.nconns > 0 || s.next.n) {
		int n;

		ret = rq_submit(s.ctx, &s.next);
		if (ret < 0) {
			fprintf(stderr, "vhttpd: submit: %s\n", strerror(-ret));
			return 1;
		}
		n = vos_wait(s.ctx, cqes, 256, 1, -1);
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "vhttpd: wait: %s\n", strerror(-n));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint64_t ud = cqes[i].user_data;

			if (ud == UD_STOP)
				stop(&s);
			else if (ud == UD_TICK)
				on_tick(&s);
			else if (ud == UD_ACCEPT) {
				on_accept(&s, cqes[i].res);
				if (s.stopping)
					stop(&s);
			} else
				on_conn(&s, (struct conn *)(uintptr_t)ud,
					cqes[i].res);
		}
	}
	fprintf(stderr, "vhttpd: stopped after %llu requests\n", s.requests);
	vos_close(s.ctx, s.lfd);
	vos_close(s.ctx, s.rootfd);
	vos_ctx_destroy(s.ctx);
	rq_free(&s.next);
	return s.failed ? 1 : 0;
}
