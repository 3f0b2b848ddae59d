/*
 * The server name (SNI, RFC 6066) in a client's first TLS record, read
 * before the handshake so that only the certificate asked for is loaded
 * (hello.c).  Pure: no I/O.
 */
#ifndef HELLO_H
#define HELLO_H

#include <stddef.h>
#include <stdint.h>

enum hello_sni {
	HELLO_MORE,		/* the record is not whole yet */
	HELLO_NONE,		/* no usable name (or not a ClientHello) */
	HELLO_NAME		/* a host name, copied out */
};

/* the longest record that can hold a ClientHello, header included */
#define HELLO_RECORD_MAX	(5 + 16384)

enum hello_sni	hello_servername(const uint8_t *, size_t, char *, size_t);

#endif
