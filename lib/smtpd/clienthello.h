/*
 * The server name (SNI, RFC 6066) in a client's first TLS record, read
 * before the handshake so that only the certificate asked for is loaded
 * (clienthello.c): clienthello_servername() parses, pure;
 * clienthello_read() reads the record off the connection first.
 */
#ifndef CLIENTHELLO_H
#define CLIENTHELLO_H

#include <stddef.h>
#include <stdint.h>

enum clienthello_sni {
	CLIENTHELLO_MORE,	/* the record is not whole yet */
	CLIENTHELLO_NONE,	/* no usable name (or not a ClientHello) */
	CLIENTHELLO_NAME	/* a host name, copied out */
};

/* the longest record that can hold a ClientHello, header included */
#define CLIENTHELLO_RECORD_MAX	(5 + 16384)

struct conn;

enum clienthello_sni	clienthello_servername(const uint8_t *rec,
			    size_t len, char *name, size_t namelen);
int			clienthello_read(struct conn *c, long deadline,
			    char *name, size_t namelen);

#endif
