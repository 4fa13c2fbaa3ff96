/*
 * number_arg.h - a command-line number, checked: what every example's
 * option parsing needs.
 */
#ifndef VOS_EXAMPLES_NUMBER_ARG_H
#define VOS_EXAMPLES_NUMBER_ARG_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Parse a decimal int in [lo, hi] or exit 2 with a message naming opt. */
static inline int number_arg(const char *opt, const char *s, int lo, int hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "%s: expected a number from %d to %d, got '%s'\n",
			opt, lo, hi, s);
		exit(2);
	}
	return (int)v;
}

#endif
