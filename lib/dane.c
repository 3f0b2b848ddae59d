/*
 * DANE for SMTP (RFC 7672, RFC 7671): a mail server's TLSA records, kept
 * if SMTP can use them, and a presented chain matched against them.
 * Pure: the records come from dns.c, the chain from the handshake.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "chain.h"
#include "dane.h"

/*
 * One TLSA record's RDATA (RFC 6698 2.1) into set: kept if SMTP can use
 * it (RFC 7672 3.1: DANE-TA(2) or DANE-EE(3), selector 0 or 1, matching
 * type 0, 1 or 2 with a digest of the right length), else only counted.
 */
void
dane_tlsa_add(struct tlsa_set *set, const unsigned char *rdata, size_t len)
{
	struct tlsa	*t;
	size_t		 want;

	if (len < 4 || (rdata[0] != TLSA_DANE_TA && rdata[0] != TLSA_DANE_EE) ||
	    rdata[1] > TLSA_SPKI || rdata[2] > TLSA_SHA512) {
		set->unusable++;
		return;
	}
	want = rdata[2] == TLSA_SHA256 ? 32 : rdata[2] == TLSA_SHA512 ? 64 :
	    len - 3;
	if (len - 3 != want || want > TLSA_MAXDATA || set->n == TLSA_MAXRR) {
		set->unusable++;
		return;
	}
	t = &set->rr[set->n++];
	t->usage = rdata[0];
	t->selector = rdata[1];
	t->mtype = rdata[2];
	t->len = want;
	memcpy(t->data, rdata + 3, want);
}

/* Does record t match certificate x (its DER, or its SPKI's)? */
static int
tlsa_matches(const struct tlsa *t, X509 *x)
{
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 len, r = 0;

	len = t->selector == TLSA_SPKI ?
	    i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : i2d_X509(x, &der);
	if (len <= 0)
		return 0;
	switch (t->mtype) {
	case TLSA_EXACT:
		r = (size_t)len == t->len && memcmp(der, t->data, t->len) == 0;
		break;
	case TLSA_SHA256:
	case TLSA_SHA512:
		r = EVP_Digest(der, (size_t)len, md, &mdlen, t->mtype ==
		    TLSA_SHA256 ? EVP_sha256() : EVP_sha512(), NULL) == 1 &&
		    mdlen == t->len && memcmp(md, t->data, t->len) == 0;
		break;
	}
	OPENSSL_free(der);
	return r;
}

/*
 * The trust anchor a DANE-TA record names: a certificate the server sent
 * after its own, or the record's own certificate (2 0 0).  NULL if none;
 * else a reference the caller frees.
 */
static X509 *
tlsa_anchor(const struct tlsa *t, const struct chain *c)
{
	const unsigned char	*p = t->data;
	X509			*x;
	int			 i;

	for (i = 0; i < sk_X509_num(c->rest); i++) {
		x = sk_X509_value(c->rest, i);
		if (tlsa_matches(t, x)) {
			X509_up_ref(x);
			return x;
		}
	}
	if (t->selector == TLSA_FULLCERT && t->mtype == TLSA_EXACT &&
	    (x = d2i_X509(NULL, &p, (long)t->len)) != NULL) {
		if (p == t->data + t->len)
			return x;
		X509_free(x);
	}
	return NULL;
}

/*
 * The chain verified from a DANE-TA anchor: dates, signatures, and the
 * name, as RFC 7672 3.2 asks; no other CA is trusted.  0, or -1 and why.
 */
static int
tlsa_chain(struct chain *c, X509 *anchor, const char *host, const char **why)
{
	X509_STORE	*store;
	int		 r = CHAIN_SETUP;

	if ((store = X509_STORE_new()) != NULL &&
	    X509_STORE_add_cert(store, anchor) == 1)
		r = chain_verify(c, store, X509_V_FLAG_PARTIAL_CHAIN,
		    X509_PURPOSE_SSL_SERVER, host, why);
	X509_STORE_free(store);
	ERR_clear_error();
	if (r == CHAIN_SETUP)
		*why = "unable to set up the verification";
	return r == CHAIN_OK ? 0 : -1;
}

/*
 * DANE authentication of a server (RFC 7672 3.1, RFC 7671): does the
 * chain it presented (PEM, leaf first) match a usable TLSA record of
 * host?  DANE-EE(3) matches the leaf, with no name and no date checked;
 * DANE-TA(2) matches a certificate of the chain, from which the leaf must
 * then verify for host.  0 with *match the record, or -1 with why.
 */
int
dane_match(const struct tlsa_set *set, const uint8_t *pem, size_t pemlen,
    const char *host, const struct tlsa **match, char *why, size_t whylen)
{
	struct chain	 c;
	const char	*reason = NULL;
	X509		*anchor;
	size_t		 i;
	int		 rv = -1;

	*match = NULL;
	if (chain_read(&c, pem, pemlen) == -1) {
		snprintf(why, whylen, "No certificate from %s", host);
		return -1;
	}
	for (i = 0; i < set->n && rv == -1; i++)
		if (set->rr[i].usage == TLSA_DANE_EE &&
		    tlsa_matches(&set->rr[i], c.leaf)) {
			*match = &set->rr[i];
			rv = 0;
		}
	for (i = 0; i < set->n && rv == -1; i++) {
		if (set->rr[i].usage != TLSA_DANE_TA ||
		    (anchor = tlsa_anchor(&set->rr[i], &c)) == NULL)
			continue;
		if (tlsa_chain(&c, anchor, host, &reason) == 0) {
			*match = &set->rr[i];
			rv = 0;
		}
		X509_free(anchor);
	}
	if (rv == -1 && reason != NULL)
		snprintf(why, whylen, "The certificate of %s does not verify "
		    "from its DANE-TA record: %s", host, reason);
	else if (rv == -1)
		snprintf(why, whylen, "No usable TLSA match for %s", host);
	chain_free(&c);
	ERR_clear_error();
	return rv;
}

/*
 * The record to publish for the key of the chain's leaf (PEM, leaf
 * first): "3 1 1 <SHA-256 of its SubjectPublicKeyInfo, in hex>", the one
 * that survives a renewal that keeps the key.  0, or -1.
 */
int
dane_record(const uint8_t *pem, size_t pemlen, char *out, size_t outlen)
{
	struct chain	 c;
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;
	int		 len, rv = -1;

	if (chain_read(&c, pem, pemlen) == -1)
		return -1;
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c.leaf), &der);
	if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL) == 1 && outlen >= 7 + 2 * (size_t)mdlen + 1) {
		snprintf(out, outlen, "%d %d %d ", TLSA_DANE_EE, TLSA_SPKI,
		    TLSA_SHA256);
		for (i = 0; i < mdlen; i++)
			snprintf(out + 6 + 2 * i, 3, "%02x", md[i]);
		rv = 0;
	}
	OPENSSL_free(der);
	chain_free(&c);
	return rv;
}
