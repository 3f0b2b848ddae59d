/*
 * The one PEM reader: the certificates and CRLs of a buffer; a chain as
 * a peer presents it (the leaf, then whatever it sent with it), verified
 * with libcrypto; a store of CAs and CRLs.  Both halves use it:
 * starttls-smtpd for client certificates and -C, starttls-remote for
 * servers'.
 */
#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "chain.h"

void
chain_free(struct chain *c)
{
	sk_X509_pop_free(c->rest, X509_free);
	X509_free(c->leaf);
	c->rest = NULL;
	c->leaf = NULL;
}


/* The certificates of a PEM buffer, in order; NULL when it has none. */
STACK_OF(X509) *
chain_pem_certs(const uint8_t *mem, size_t len)
{
	STACK_OF(X509)	*certs;
	BIO		*bio;
	X509		*x;

	if ((certs = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(mem, (int)len)) == NULL) {
		sk_X509_free(certs);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(certs, x) == 0)
			X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	if (sk_X509_num(certs) == 0) {
		sk_X509_free(certs);
		return NULL;
	}
	return certs;
}

/* The CRLs of a PEM buffer, in order; NULL when it has none. */
STACK_OF(X509_CRL) *
chain_pem_crls(const uint8_t *mem, size_t len)
{
	STACK_OF(X509_CRL)	*crls;
	BIO			*bio;
	X509_CRL		*crl;

	if ((crls = sk_X509_CRL_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(mem, (int)len)) == NULL) {
		sk_X509_CRL_free(crls);
		return NULL;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL)
		if (sk_X509_CRL_push(crls, crl) == 0)
			X509_CRL_free(crl);
	BIO_free(bio);
	ERR_clear_error();
	if (sk_X509_CRL_num(crls) == 0) {
		sk_X509_CRL_free(crls);
		return NULL;
	}
	return crls;
}

/*
 * From PEM, leaf first (tls_peer_cert_chain_pem(), or a combined file
 * with a key and text between: only certificates count); 0, or -1: no
 * leaf.
 */
int
chain_read(struct chain *c, const uint8_t *pem, size_t pemlen)
{
	c->leaf = NULL;
	if (pem == NULL || pemlen == 0 ||
	    (c->rest = chain_pem_certs(pem, pemlen)) == NULL)
		return -1;
	c->leaf = sk_X509_shift(c->rest);
	return 0;
}

/*
 * Add the certificates and CRLs of a PEM buffer to store, as
 * X509_STORE_load_locations() does for a file: 0 if it held at least one
 * and all could be added, -1 otherwise.
 */
int
chain_store_addpem(X509_STORE *store, const char *pem, size_t len)
{
	STACK_OF(X509_INFO)	*info;
	X509_INFO		*xi;
	BIO			*b;
	int			 i, n = 0, bad = 0;

	if (pem == NULL || len == 0 || len > INT_MAX ||
	    (b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -1;
	info = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (info == NULL)
		return -1;
	for (i = 0; i < sk_X509_INFO_num(info); i++) {
		xi = sk_X509_INFO_value(info, i);
		if (xi->x509 != NULL) {
			if (X509_STORE_add_cert(store, xi->x509) != 1)
				bad = 1;
			n++;
		}
		if (xi->crl != NULL) {
			if (X509_STORE_add_crl(store, xi->crl) != 1)
				bad = 1;
			n++;
		}
	}
	sk_X509_INFO_pop_free(info, X509_INFO_free);
	return n > 0 && !bad ? 0 : -1;
}

/*
 * Why a chain failed, in our words and not the library's: OpenSSL and
 * LibreSSL word the same X.509 error differently ("unsuitable" and
 * "unsupported certificate purpose"), and LibreSSL does not call a
 * self-signed certificate without keyCertSign self-signed.  What is not
 * in the table keeps libcrypto's words.
 */
static const char *
chain_reason(int error, const struct chain *c)
{
	static const struct {
		int		 error;
		const char	*words;
	} reasons[] = {
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
		    "unable to get issuer certificate" },
		{ X509_V_ERR_UNABLE_TO_GET_CRL, "unable to get certificate CRL" },
		{ X509_V_ERR_CERT_SIGNATURE_FAILURE,
		    "certificate signature failure" },
		{ X509_V_ERR_CERT_NOT_YET_VALID, "certificate is not yet valid" },
		{ X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired" },
		{ X509_V_ERR_CRL_HAS_EXPIRED, "CRL has expired" },
		{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
		    "self-signed certificate" },
		{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
		    "self-signed certificate in certificate chain" },
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		    "unable to get local issuer certificate" },
		{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
		    "unable to verify the first certificate" },
		{ X509_V_ERR_CERT_CHAIN_TOO_LONG, "certificate chain too long" },
		{ X509_V_ERR_CERT_REVOKED, "certificate revoked" },
		{ X509_V_ERR_INVALID_CA, "invalid CA certificate" },
		{ X509_V_ERR_INVALID_PURPOSE, "unsuitable certificate purpose" },
		{ X509_V_ERR_KEYUSAGE_NO_CERTSIGN,
		    "key usage does not include certificate signing" },
		{ X509_V_ERR_HOSTNAME_MISMATCH, "the name does not match" },
	};
	size_t	 i;

	if (error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY &&
	    sk_X509_num(c->rest) == 0 &&
	    X509_NAME_cmp(X509_get_subject_name(c->leaf),
	    X509_get_issuer_name(c->leaf)) == 0)
		error = X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].error == error)
			return reasons[i].words;
	return X509_verify_cert_error_string(error);
}

/*
 * Verify the chain for purpose against the CAs in store, with the
 * X509_V_FLAG_* flags (CRL checks, a partial chain for DANE-TA), and for
 * host if it is not NULL.  CHAIN_OK, or CHAIN_BAD with *why the reason
 * (chain_reason), or CHAIN_SETUP.
 */
int
chain_verify(struct chain *c, X509_STORE *store, unsigned long flags,
    int purpose, const char *host, const char **why)
{
	X509_STORE_CTX		*sctx;
	X509_VERIFY_PARAM	*param;
	int			 rv = CHAIN_SETUP;

	if (flags != 0)
		X509_STORE_set_flags(store, flags);
	if ((sctx = X509_STORE_CTX_new()) != NULL &&
	    X509_STORE_CTX_init(sctx, store, c->leaf, c->rest) == 1 &&
	    X509_STORE_CTX_set_purpose(sctx, purpose) == 1 &&
	    (param = X509_STORE_CTX_get0_param(sctx)) != NULL &&
	    (host == NULL || X509_VERIFY_PARAM_set1_host(param, host,
	    strlen(host)) == 1)) {
		/* RFC 7672 3.2.3 and RFC 6125: DNS-IDs, whole labels */
		X509_VERIFY_PARAM_set_hostflags(param,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
		    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
		if (X509_verify_cert(sctx) == 1)
			rv = CHAIN_OK;
		else {
			rv = CHAIN_BAD;
			*why = chain_reason(X509_STORE_CTX_get_error(sctx),
			    c);
		}
	}
	ERR_clear_error();
	X509_STORE_CTX_free(sctx);
	return rv;
}
