/*
 * options.h - reading "key=value,key=value" option strings.
 */
#ifndef VOS_OPTIONS_H
#define VOS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Take the next item of *s into key and val (NUL-terminated), advancing
 * *s.  Returns 1 for an item, 0 at the end, -EINVAL for an item without
 * '=' or one that does not fit.
 */
int vos__opt_next(const char **s, char *key, size_t kcap, char *val,
		  size_t vcap);

/* val as an unsigned number in [min, max] into *out: 0 or -EINVAL. */
int vos__opt_uint(const char *val, uint64_t min, uint64_t max,
		  uint64_t *out);

#endif /* VOS_OPTIONS_H */
