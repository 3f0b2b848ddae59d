/*
 * libtls configuration from qmail-tls control files.
 */
#ifndef TLSCONF_H
#define TLSCONF_H

#include <stddef.h>

struct tls;

struct tls	*tlsconf_server(const char *, const char *, int *, char *,
		    size_t);
int		 tlsconf_ciphers(const char *, const char *, const char *,
		    char **);

#endif
