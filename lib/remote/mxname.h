/*
 * MX host names as policies see them: a name from DNS is a name only if
 * it reads as one (mxname_normal), and a policy's patterns match names,
 * never addresses (mxname_match).
 */
#ifndef MXNAME_H
#define MXNAME_H

#include <stddef.h>

#define MXNAME_MAX	254	/* 253 characters and the NUL */

int	mxname_normal(const char *, char *, size_t);
int	mxname_pattern(const char *, size_t, char *, size_t);
int	mxname_match(const char *, const char *);

#endif
