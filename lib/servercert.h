/*
 * A server's certificate checked for a host name (servercert.c).
 */
#ifndef SERVERCERT_H
#define SERVERCERT_H

#include <stddef.h>
#include <stdint.h>

/* How a server certificate must name the host (RFC 6125) */
enum servercert_name {
	SERVERCERT_NAME_SAN,	/* a subjectAltName DNS name (MTA-STS) */
	SERVERCERT_NAME_SAN_OR_CN /* ...or the CN when it has none (qmail-tls) */
};

int	servercert_verify(const uint8_t *pem, size_t pemlen, const char *cafile,
	    const char *host, enum servercert_name rule, char *why,
	    size_t whylen);

size_t	servercert_names(const uint8_t *pem, size_t pemlen,
	    char (*names)[256], size_t max);

#endif
