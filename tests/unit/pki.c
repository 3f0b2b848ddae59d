/*
 * Certificates made in memory at test time, for the unit tests of the
 * certificate checks: nothing is committed, nothing is read from disk.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"

EVP_PKEY *
pki_key(void)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*k = NULL;

	if ((ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx,
	    NID_X9_62_prime256v1) != 1 || EVP_PKEY_keygen(ctx, &k) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static void
ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 v3;
	X509_EXTENSION	*e;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) != NULL) {
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
}

/*
 * A certificate for cn, valid from..to days from now, signed by issuer
 * (NULL: by itself); san, e.g. "DNS:mx.example.org", "" for none, or
 * NULL for a CA.
 */
X509 *
pki_cert(const char *cn, const char *san, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *ikey, long from, long to, long serial)
{
	X509	*x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), from * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), to * 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer :
	    x));
	if (san == NULL)
		ext(x, issuer != NULL ? issuer : x, NID_basic_constraints,
		    "critical,CA:TRUE");
	else if (*san != '\0')
		ext(x, issuer, NID_subject_alt_name, san);
	X509_sign(x, ikey, EVP_sha256());
	return x;
}

/* What was written to the memory BIO b, into out as a string; freed. */
static size_t
bio_out(BIO *b, char *out, size_t outlen)
{
	char	*p;
	long	 n;

	n = BIO_get_mem_data(b, &p);
	if (n < 0 || (size_t)n >= outlen)
		n = 0;
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	return (size_t)n;
}

/* Certificates as PEM, first then second (either may be NULL). */
size_t
pki_pem(char *out, size_t outlen, X509 *first, X509 *second)
{
	BIO	*b = BIO_new(BIO_s_mem());

	if (first != NULL)
		PEM_write_bio_X509(b, first);
	if (second != NULL)
		PEM_write_bio_X509(b, second);
	return bio_out(b, out, outlen);
}

/* A key as PEM, encrypted with passphrase unless it is NULL. */
size_t
pki_pem_key(char *out, size_t outlen, EVP_PKEY *key, const char *passphrase)
{
	BIO	*b = BIO_new(BIO_s_mem());

	PEM_write_bio_PrivateKey(b, key, passphrase != NULL ?
	    EVP_aes_128_cbc() : NULL, (unsigned char *)passphrase,
	    passphrase != NULL ? (int)strlen(passphrase) : 0, NULL, NULL);
	return bio_out(b, out, outlen);
}
