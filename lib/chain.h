/*
 * A presented certificate chain, read from PEM and verified (chain.c).
 */
#ifndef CHAIN_H
#define CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/* A presented chain: the leaf, then whatever the peer sent with it. */
struct chain {
	X509		*leaf;
	STACK_OF(X509)	*rest;
};

/* What chain_verify() found */
enum chain_result {
	CHAIN_SETUP = -3,	/* the library failed us */
	CHAIN_NOCRL,		/* the CRLs cannot be used */
	CHAIN_NOCA,		/* the CAs cannot be used */
	CHAIN_BAD,		/* it does not verify */
	CHAIN_OK
};

STACK_OF(X509)		*chain_pem_certs(const uint8_t *mem, size_t len);
STACK_OF(X509_CRL)	*chain_pem_crls(const uint8_t *mem, size_t len);
int	chain_read(struct chain *c, const uint8_t *pem, size_t pemlen);
void	chain_free(struct chain *c);
int	chain_store_addpem(X509_STORE *store, const char *pem, size_t len);
int	chain_verify(struct chain *c, X509_STORE *store, unsigned long flags,
	    int purpose, const char *host, const char **why);

#endif
