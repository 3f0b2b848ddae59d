/*
 * MX host names as policies see them: a name from DNS is a name only if
 * it reads as one (mxname_normal), and a policy's patterns match names,
 * never addresses (mxname_match).
 */
#ifndef MXNAME_H
#define MXNAME_H

#include <stddef.h>

#define MXNAME_MAX	254	/* 253 characters and the NUL */

int	mxname_normal(const char *host, char *out, size_t outlen);
int	mxname_pattern(const char *s, size_t len, char *out, size_t outlen);
int	mxname_match(const char *pattern, const char *name);

#endif
