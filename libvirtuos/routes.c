/*
 * routes.c - reading the routing configuration (doc/routing.md).
 *
 *   # comment
 *   service NAME TRANSPORT [OPTIONS]   a service and how to reach it
 *   family  FAMILY NAME                 sockets of FAMILY go to NAME
 *   path    PREFIX NAME                 absolute paths under PREFIX go to NAME
 *   local   TRANSPORT [OPTIONS]         what serves everything else
 *
 * FAMILY is inet, inet6, unix, or a number.  Service "local" is built in.
 * OPTIONS: key=value pairs, separated by commas or by blanks (one or more
 * words, each a comma-separated list); the transport refuses keys it does
 * not know.  A line with anything else is refused, naming the word.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "routes.h"

const char *vos__routes_path(void)
{
	const char *e = getenv("VOS_ROUTES");

	if (e)
		return *e && strcmp(e, "none") ? e : NULL;
	return access(VOS__ROUTES_DEFAULT, R_OK) == 0 ? VOS__ROUTES_DEFAULT
						      : NULL;
}

static int find_svc(const struct vos__routes *rt, const char *name)
{
	for (unsigned i = 0; i < rt->nsvc; i++)
		if (strcmp(rt->svc[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int family_of(const char *s)
{
	char *e;
	long v;

	if (!strcmp(s, "inet"))
		return AF_INET;
	if (!strcmp(s, "inet6"))
		return AF_INET6;
	if (!strcmp(s, "unix"))
		return AF_UNIX;
	v = strtol(s, &e, 10);
	return *s && !*e && v > 0 && v < VOS__MAX_FAMILY ? (int)v : -1;
}

#define MAX_WORDS 16

/* Service i's transport tr and its options, the words w[0..n) joined by
 * commas.  NULL, or what is wrong (*bad: the word). */
static const char *set_transport(struct vos__routes *rt, unsigned i,
				 const char *tr, char **w, int n,
				 const char **bad)
{
	char *o = rt->svc[i].options;
	size_t len = 0, cap = sizeof(rt->svc[i].options);

	if (strlen(tr) >= sizeof(rt->svc[i].transport))
		return "transport name too long";
	strcpy(rt->svc[i].transport, tr);
	o[0] = '\0';
	for (int k = 0; k < n; k++) {
		size_t l = strlen(w[k]);

		if (!strchr(w[k], '=') || w[k][0] == '=' || w[k][0] == ',') {
			*bad = w[k];
			return "options are key=value";
		}
		if (len + (k > 0) + l >= cap)
			return "options too long";
		if (k > 0)
			o[len++] = ',';
		memcpy(o + len, w[k], l + 1);
		len += l;
	}
	return NULL;
}

int vos__routes_load(const char *path, struct vos__routes *rt)
{
	char line[512];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	memset(rt, 0, sizeof(*rt));
	strcpy(rt->svc[0].name, "local");
	strcpy(rt->svc[0].transport, "io_uring-local");
	rt->nsvc = 1;
	if (!f) {
		int e = errno;

		vos__log(VOS__LOG_ERROR, "routes: cannot read %s: %s", path,
			 strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		char *w[MAX_WORDS] = { 0 }, *save = NULL;
		char *hash = strchr(line, '#');
		const char *err = NULL, *bad = NULL;
		int n = 0, s;

		lineno++;
		if (hash)
			*hash = '\0';
		for (char *t = strtok_r(line, " \t\r\n", &save); t;
		     t = strtok_r(NULL, " \t\r\n", &save)) {
			if (n == MAX_WORDS) {
				err = "too many words";
				bad = t;
				break;
			}
			w[n++] = t;
		}
		if (n == 0)
			continue;
		if (err) {
			/* said below */
		} else if (!strcmp(w[0], "service") && n >= 3) {
			if (find_svc(rt, w[1]) >= 0)
				err = "service defined twice";
			else if (rt->nsvc == VOS__MAX_SERVICES)
				err = "too many services";
			else if (strlen(w[1]) >= sizeof(rt->svc[0].name))
				err = "service name too long";
			else if (!(err = set_transport(rt, rt->nsvc, w[2],
						       w + 3, n - 3, &bad)))
				strcpy(rt->svc[rt->nsvc++].name, w[1]);
		} else if (!strcmp(w[0], "local") && n >= 2) {
			err = set_transport(rt, 0, w[1], w + 2, n - 2, &bad);
		} else if ((!strcmp(w[0], "family") || !strcmp(w[0], "path")) &&
			   n > 3) {
			err = "unexpected word";
			bad = w[3];
		} else if (!strcmp(w[0], "family") && n == 3) {
			int fam = family_of(w[1]);

			s = find_svc(rt, w[2]);
			if (fam < 0)
				err = "unknown socket family";
			else if (s < 0)
				err = "no such service (define it first)";
			else
				rt->family[fam] = (unsigned char)s;
		} else if (!strcmp(w[0], "path") && n == 3) {
			size_t len = strlen(w[1]);

			s = find_svc(rt, w[2]);
			while (len > 1 && w[1][len - 1] == '/')
				w[1][--len] = '\0';
			if (w[1][0] != '/' || len >= sizeof(rt->prefix[0].prefix))
				err = "a path prefix must be absolute";
			else if (s < 0)
				err = "no such service (define it first)";
			else if (rt->nprefix == VOS__MAX_PREFIXES)
				err = "too many path prefixes";
			else {
				strcpy(rt->prefix[rt->nprefix].prefix, w[1]);
				rt->prefix[rt->nprefix].len = len;
				rt->prefix[rt->nprefix++].svc = (unsigned)s;
			}
		} else {
			err = "expected 'service NAME TRANSPORT [OPTIONS]', "
			      "'family FAMILY NAME', 'path PREFIX NAME' or "
			      "'local TRANSPORT [OPTIONS]'";
			bad = w[0];
		}
		if (err) {
			vos__log(VOS__LOG_ERROR, "routes: %s:%u: %s%s%s%s", path,
				 lineno, err, bad ? " ('" : "", bad ? bad : "",
				 bad ? "')" : "");
			fclose(f);
			return -EINVAL;
		}
	}
	fclose(f);
	return 0;
}
