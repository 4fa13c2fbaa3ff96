/*
 * options.c - reading "key=value,key=value" option strings.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int vos__opt_next(const char **s, char *key, size_t kcap, char *val,
		  size_t vcap)
{
	const char *p = *s, *end, *eq;
	size_t kl, vl;

	if (!p || !*p)
		return 0;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	eq = memchr(p, '=', (size_t)(end - p));
	if (!eq)
		return -EINVAL;
	kl = (size_t)(eq - p);
	vl = (size_t)(end - eq - 1);
	if (kl == 0 || kl >= kcap || vl >= vcap)
		return -EINVAL;
	memcpy(key, p, kl);
	key[kl] = '\0';
	memcpy(val, eq + 1, vl);
	val[vl] = '\0';
	*s = *end ? end + 1 : end;
	return 1;
}

int vos__opt_uint(const char *val, uint64_t min, uint64_t max, uint64_t *out)
{
	char *e;
	unsigned long long v;

	if (!*val || *val == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(val, &e, 10);
	if (errno || *e || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}
