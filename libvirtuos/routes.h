/*
 * routes.h - the routing configuration: which service serves which socket
 * families and which path prefixes (doc/routing.md).
 */
#ifndef VOS_ROUTES_H
#define VOS_ROUTES_H

#include <stddef.h>

#define VOS__ROUTES_DEFAULT "/etc/virtuos/routes.conf"
#define VOS__MAX_SERVICES 8   /* including "local", which is number 0 */
#define VOS__MAX_PREFIXES 16
#define VOS__MAX_FAMILY 64

struct vos__routes {
	unsigned nsvc;
	struct {
		char name[32];
		char transport[32];
		char options[256];
	} svc[VOS__MAX_SERVICES];
	unsigned char family[VOS__MAX_FAMILY]; /* service per family; 0 local */
	unsigned nprefix;
	struct {
		char prefix[256]; /* absolute, no trailing '/' */
		size_t len;
		unsigned svc;
	} prefix[VOS__MAX_PREFIXES];
};

/*
 * The routes file to use: $VOS_ROUTES if set (NULL if it is "" or
 * "none": routing off), else VOS__ROUTES_DEFAULT if it exists, else NULL.
 */
const char *vos__routes_path(void);

/* Parse the file.  0, or -errno after logging file:line and what is
 * wrong. */
int vos__routes_load(const char *path, struct vos__routes *rt);

#endif /* VOS_ROUTES_H */
