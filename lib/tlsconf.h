/*
 * libtls configuration from qmail-tls control files.
 */
#ifndef TLSCONF_H
#define TLSCONF_H

#include <stddef.h>
#include <stdint.h>

struct tls;
struct tls_config;

/* a server name: a DNS name, 253 characters at most */
#define TLSCONF_NAME_MAX	253

/* A certificate for one server name (SNI): servercerts/<name>.pem. */
struct tlsconf_named {
	char		 name[TLSCONF_NAME_MAX + 1];	/* in lower case */
	uint8_t		*pem;		/* once fetched, until used */
	size_t		 pemlen;
};

/* The server side's inputs, read before the sandbox (tlsconf.c). */
struct tlsconf_server {
	uint8_t		*pem;		/* servercert.pem, until used */
	size_t		 pemlen;
	int		 hasnamed;	/* servercerts/ is there */
	struct tlsconf_named named;	/* the one a client named, if any */
	char		*ciphers;	/* $TLSCIPHERS or tlsserverciphers */
	int		 ciphersenv;	/* ... and it came from $TLSCIPHERS */
	int		 askcert;	/* clientca.pem exists */
	char		 used[TLSCONF_NAME_MAX + 32];	/* the file made */
};

int		 tlsconf_server_read(struct tlsconf_server *sv,
	    const char *dir, const char *ciphersenv, char *err, size_t errlen);
struct tls	*tlsconf_server_make(struct tlsconf_server *sv,
	    const char *servername, char *err, size_t errlen);
int		 tlsconf_servername(const char *name, char *out,
	    size_t outlen);
int		 tlsconf_named_load(const char *dir, const char *name,
	    uint8_t **pem, size_t *len, char *why, size_t whylen);
void		 tlsconf_server_free(struct tlsconf_server *sv);
struct tls	*tlsconf_client(const char *dir, struct tls_config **cfgp,
	    char *err, size_t errlen, char *note, size_t notelen);
void		 tlsconf_client_done(struct tls_config *cfg);
int		 tlsconf_ciphers(const char *envval, const char *dir,
	    const char *file, char **out);
int		 tlsconf_keypair_check(const uint8_t *pem, size_t len,
	    char *why, size_t whylen);

#endif
