/*
 * The certificate checks, all in one place: the client's, against
 * clientca.pem; a server's, against tlshosts/<host>.pem or its TLSA
 * records (DANE, at the end).
 *
 * The client-certificate check.
 *
 * libtls cannot be left to judge client certificates (FIELD.md 5.5): with
 * verify_client_optional it aborts the handshake for any certificate not
 * from its CA list, which breaks ordinary MTAs that present their own.  So
 * the handshake accepts any certificate (the client still has to prove it
 * holds the key), and here the presented chain is verified with libcrypto
 * against clientca.pem and clientcrl.pem, for the TLS client purpose.
 *
 * The identity is the e-mail address in the certificate's subject
 * emailAddress attributes or subjectAltName rfc822Name entries, read from
 * the ASN.1 structure.  The printed subject is never parsed: a CN of
 * "x/emailAddress=good@example.com" prints like an address and is not one.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "certid.h"
#include "control.h"
#include "io.h"
#include "text.h"

/* An address we accept: printable ASCII, no spaces, one '@' inside. */
static int
addr_ok(const unsigned char *p, int len)
{
	int	 i, at = -1;

	if (len < 3 || len > 255)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return 0;
		if (p[i] == '@') {
			if (at != -1)
				return 0;
			at = i;
		}
	}
	return at > 0 && at < len - 1;
}

static void
addr_add(struct certid *id, const ASN1_STRING *s)
{
	const unsigned char	*p = ASN1_STRING_get0_data(s);
	int			 len = ASN1_STRING_length(s);
	size_t			 i;

	if (id->naddr == CERTID_MAXADDR || p == NULL || !addr_ok(p, len))
		return;
	for (i = 0; i < id->naddr; i++)
		if (strlen(id->addr[i]) == (size_t)len &&
		    memcmp(id->addr[i], p, len) == 0)
			return;
	memcpy(id->addr[id->naddr], p, len);
	id->addr[id->naddr][len] = '\0';
	id->naddr++;
}

static void
addr_collect(struct certid *id, X509 *leaf)
{
	X509_NAME		*name = X509_get_subject_name(leaf);
	X509_NAME_ENTRY		*e;
	GENERAL_NAMES		*alt;
	GENERAL_NAME		*g;
	int			 i;

	for (i = -1; (i = X509_NAME_get_index_by_NID(name,
	    NID_pkcs9_emailAddress, i)) >= 0; ) {
		e = X509_NAME_get_entry(name, i);
		addr_add(id, X509_NAME_ENTRY_get_data(e));
	}
	alt = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	if (alt == NULL)
		return;
	for (i = 0; i < sk_GENERAL_NAME_num(alt); i++) {
		g = sk_GENERAL_NAME_value(alt, i);
		if (g->type == GEN_EMAIL)
			addr_add(id, g->d.rfc822Name);
	}
	GENERAL_NAMES_free(alt);
}

static void
subject_print(struct certid *id, X509 *leaf)
{
	BIO	*b;
	int	 n;

	id->subject[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(leaf), 0,
	    XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(b, id->subject, sizeof(id->subject) - 1);
		id->subject[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
}

static void
fail(struct certid *id, const char *why)
{
	id->verified = 0;
	snprintf(id->reason, sizeof(id->reason), "%s", why);
}

/* A presented chain: the leaf, then whatever the peer sent with it. */
struct chain {
	X509		*leaf;
	STACK_OF(X509)	*rest;
};

static void
chain_free(struct chain *c)
{
	sk_X509_pop_free(c->rest, X509_free);
	X509_free(c->leaf);
	c->rest = NULL;
	c->leaf = NULL;
}

/* From PEM, leaf first (tls_peer_cert_chain_pem()); 0, or -1: no leaf. */
static int
chain_read(struct chain *c, const uint8_t *pem, size_t pemlen)
{
	BIO	*b;
	X509	*x;

	c->leaf = NULL;
	c->rest = NULL;
	if (pem == NULL || pemlen == 0 ||
	    (b = BIO_new_mem_buf(pem, (int)pemlen)) == NULL)
		return -1;
	c->leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (c->leaf != NULL && (c->rest = sk_X509_new_null()) != NULL)
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			if (!sk_X509_push(c->rest, x)) {
				X509_free(x);
				break;
			}
	BIO_free(b);
	ERR_clear_error();
	if (c->leaf == NULL || c->rest == NULL) {
		chain_free(c);
		return -1;
	}
	return 0;
}

enum { CHAIN_SETUP = -3, CHAIN_NOCRL, CHAIN_NOCA, CHAIN_BAD, CHAIN_OK };

/*
 * Add the certificates and CRLs of a PEM buffer to store, as
 * X509_STORE_load_locations() does for a file: 0 if it held at least one
 * and all could be added, -1 otherwise.
 */
static int
store_addpem(X509_STORE *store, const char *pem, size_t len)
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
static int
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

#define PEM_MAX		(64 * 1024 * 1024)	/* a CA bundle, or CRLs */

static void
file_open(struct certid_file *f, const char *dir, const char *name)
{
	if ((f->fd = control_open(dir, name)) == -1 && errno != ENOENT)
		f->err = errno;
}

/* The file's contents, read now if not yet: 1, 0 (absent) or -1 (err). */
static int
file_get(struct certid_file *f, size_t max)
{
	if (f->fd != -1) {
		if (io_readall(f->fd, max, &f->data, &f->len) == -1)
			f->err = errno != 0 ? errno : EIO;
		close(f->fd);
		f->fd = -1;
	}
	return f->data != NULL ? 1 : f->err != 0 ? -1 : 0;
}

static void
file_close(struct certid_file *f)
{
	if (f->fd != -1)
		close(f->fd);
	free(f->data);
	f->fd = -1;
	f->data = NULL;
	f->len = 0;
	f->err = 0;
}

/* clientca.pem and clientcrl.pem as a store: CHAIN_OK or why not. */
static int
trust_store(struct certid_trust *t, X509_STORE **store, int *crlcheck)
{
	int	 r;

	*store = NULL;
	*crlcheck = 0;
	if (file_get(&t->ca, PEM_MAX) != 1)
		return CHAIN_NOCA;
	if ((*store = X509_STORE_new()) == NULL)
		return CHAIN_SETUP;
	if (store_addpem(*store, t->ca.data, t->ca.len) == -1)
		return CHAIN_NOCA;
	if ((r = file_get(&t->crl, PEM_MAX)) == -1 || (r == 1 &&
	    store_addpem(*store, t->crl.data, t->crl.len) == -1))
		return CHAIN_NOCRL;
	*crlcheck = r == 1;
	return CHAIN_OK;
}

/* Nothing to judge certificates with (no clientca.pem). */
void
certid_init(struct certid_trust *t)
{
	memset(t, 0, sizeof(*t));
	t->ca.fd = t->crl.fd = t->clients.fd = -1;
}

/*
 * Open what certid_check() and certid_listed() may need.  Failures are
 * kept and reported when a certificate is judged, as before the sandbox.
 */
void
certid_load(struct certid_trust *t, const char *dir)
{
	certid_init(t);
	file_open(&t->ca, dir, "clientca.pem");
	if (t->ca.fd == -1)
		return;		/* nothing can be verified, or listed */
	file_open(&t->crl, dir, "clientcrl.pem");
	file_open(&t->clients, dir, "tlsclients");
}

void
certid_unload(struct certid_trust *t)
{
	file_close(&t->ca);
	file_close(&t->crl);
	file_close(&t->clients);
}

/*
 * Judge the chain the client presented (PEM, leaf first, as libtls's
 * tls_peer_cert_chain_pem() gives it) against clientca.pem and, if it
 * exists, clientcrl.pem.
 */
void
certid_check(struct certid *id, const uint8_t *pem, size_t pemlen,
    struct certid_trust *t)
{
	struct chain	 c;
	X509_STORE	*store = NULL;
	const char	*why = NULL;
	int		 r, crlcheck;

	memset(id, 0, sizeof(*id));
	id->listed = -1;
	fail(id, "no certificate");
	if (pem == NULL || pemlen == 0)
		return;
	if (chain_read(&c, pem, pemlen) == -1) {
		fail(id, "unreadable certificate");
		return;
	}
	id->provided = 1;
	subject_print(id, c.leaf);
	addr_collect(id, c.leaf);
	if (file_get(&t->ca, PEM_MAX) == 0)
		fail(id, "no clientca.pem");
	else switch ((r = trust_store(t, &store, &crlcheck)) == CHAIN_OK ?
	    chain_verify(&c, store, crlcheck ? X509_V_FLAG_CRL_CHECK |
	    X509_V_FLAG_CRL_CHECK_ALL : 0, X509_PURPOSE_SSL_CLIENT, NULL,
	    &why) : r) {
	case CHAIN_OK:
		id->verified = 1;
		id->reason[0] = '\0';
		break;
	case CHAIN_BAD:
		fail(id, why);
		break;
	case CHAIN_NOCA:
		fail(id, "unable to load clientca.pem");
		break;
	case CHAIN_NOCRL:
		fail(id, "unable to load clientcrl.pem");
		break;
	default:
		fail(id, "unable to set up verification");
	}
	ERR_clear_error();
	X509_STORE_free(store);
	chain_free(&c);
}

/*
 * Is one of the certificate's addresses a line of tlsclients?  Only a
 * verified certificate with an address can be listed.  Returns 1
 * (id->listed set), 0, or -1 with errno set if tlsclients could not be
 * read.
 */
int
certid_listed(struct certid *id, struct certid_trust *t)
{
	size_t	 i;
	int	 r;

	id->listed = -1;
	if (!id->verified || id->naddr == 0)
		return 0;
	if ((r = file_get(&t->clients, CONTROL_MAX)) == -1) {
		errno = t->clients.err;
		return -1;
	}
	for (i = 0; r == 1 && i < id->naddr; i++)
		if (control_haslinein(t->clients.data, t->clients.len,
		    id->addr[i])) {
			id->listed = (int)i;
			return 1;
		}
	return 0;
}

/*
 * The server half (starttls-remote): the chain must verify against
 * cafile for the TLS server purpose, and host must be one of its names:
 * a subjectAltName dNSName, or with CERTID_NAME_SAN_OR_CN the CN when
 * there are none (the qmail-tls patch's rule, for tlshosts/).  A
 * wildcard counts only as a whole left-most label, never "m*.example";
 * an attacker can have a CA issue it almost any odd name.  Returns 0,
 * or -1 with the reason in why, worded as the qmail-tls patch words it
 * so that logs read the same.
 */
int
certid_server(const uint8_t *pem, size_t pemlen, const char *cafile,
    const char *host, enum certid_name rule, char *why, size_t whylen)
{
	struct chain	 c;
	X509_STORE	*store;
	GENERAL_NAMES	*alt;
	const char	*reason = NULL;
	char		 cn[256];
	int		 i, r, ndns = 0, rv = -1;

	if (chain_read(&c, pem, pemlen) == -1) {
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "no certificate provided", host);
		return -1;
	}
	if ((store = X509_STORE_new()) == NULL)
		r = CHAIN_SETUP;
	else if (X509_STORE_load_locations(store, cafile, NULL) != 1)
		r = CHAIN_NOCA;
	else
		r = chain_verify(&c, store, 0, X509_PURPOSE_SSL_SERVER, NULL,
		    &reason);
	switch (r) {
	case CHAIN_OK:
		break;
	case CHAIN_BAD:
		snprintf(why, whylen, "TLS unable to verify server with %s: %s",
		    cafile, reason);
		goto done;
	case CHAIN_NOCA:
		snprintf(why, whylen, "TLS unable to load %s", cafile);
		goto done;
	default:
		snprintf(why, whylen, "TLS error initializing ctx");
		goto done;
	}
	if (X509_check_host(c.leaf, host, strlen(host),
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | (rule == CERTID_NAME_SAN ?
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT : 0), NULL) == 1) {
		rv = 0;
		goto done;
	}
	/* the patch's three ways of saying the name is wrong (sic) */
	if ((alt = X509_get_ext_d2i(c.leaf, NID_subject_alt_name, NULL,
	    NULL)) != NULL) {
		for (i = 0; i < sk_GENERAL_NAME_num(alt); i++)
			if (sk_GENERAL_NAME_value(alt, i)->type == GEN_DNS)
				ndns++;
		GENERAL_NAMES_free(alt);
	}
	if (ndns > 0)
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "certificate contains no matching dNSNnames", host);
	else if (rule == CERTID_NAME_SAN)
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "certificate has no subjectAltName DNS names (its CN does "
		    "not count)", host);
	else if (X509_NAME_get_text_by_NID(X509_get_subject_name(c.leaf),
	    NID_commonName, cn, sizeof(cn)) <= 0)
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "certificate contains no valid commonName", host);
	else {
		for (i = 0; cn[i] != '\0'; i++)
			cn[i] = (char)text_safe(cn[i], TEXT_NOSPACE);
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "received certificate for %s", host, cn);
	}
 done:
	ERR_clear_error();
	X509_STORE_free(store);
	chain_free(&c);
	return rv;
}

/* ------------------------------------------------------------------ DANE */

/*
 * One TLSA record's RDATA (RFC 6698 2.1) into set: kept if SMTP can use
 * it (RFC 7672 3.1: DANE-TA(2) or DANE-EE(3), selector 0 or 1, matching
 * type 0, 1 or 2 with a digest of the right length), else only counted.
 */
void
certid_tlsa_add(struct tlsa_set *set, const unsigned char *rdata, size_t len)
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
certid_dane(const struct tlsa_set *set, const uint8_t *pem, size_t pemlen,
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
