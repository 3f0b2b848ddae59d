/*
 * Certificates made in memory for the unit tests (pki.c).
 */
#ifndef PKI_H
#define PKI_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

EVP_PKEY	*pki_key(void);
X509		*pki_cert(const char *cn, const char *san, EVP_PKEY *key,
		    X509 *issuer, EVP_PKEY *ikey, long from, long to,
		    long serial);
size_t		 pki_pem(char *out, size_t outlen, X509 *first, X509 *second);
size_t		 pki_pem_key(char *out, size_t outlen, EVP_PKEY *key,
		    const char *passphrase);

#endif
