/*
 * The client-certificate check, all in one place.
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
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "certid.h"
#include "control.h"

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

/*
 * Judge the chain the client presented (PEM, leaf first, as libtls's
 * tls_peer_cert_chain_pem() gives it).  cafile is clientca.pem; crlfile,
 * if not NULL, holds the CRLs of those CAs.
 */
void
certid_check(struct certid *id, const uint8_t *pem, size_t pemlen,
    const char *cafile, const char *crlfile)
{
	BIO			*b = NULL;
	X509			*leaf = NULL, *x;
	STACK_OF(X509)		*chain = NULL;
	X509_STORE		*store = NULL;
	X509_STORE_CTX		*sctx = NULL;

	memset(id, 0, sizeof(*id));
	id->listed = -1;
	fail(id, "no certificate");
	if (pem == NULL || pemlen == 0)
		return;
	if ((b = BIO_new_mem_buf(pem, (int)pemlen)) == NULL ||
	    (leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		fail(id, "unreadable certificate");
		goto done;
	}
	id->provided = 1;
	subject_print(id, leaf);
	addr_collect(id, leaf);
	if ((chain = sk_X509_new_null()) == NULL) {
		fail(id, "out of memory");
		goto done;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			fail(id, "out of memory");
			goto done;
		}
	ERR_clear_error();
	if (cafile == NULL) {
		fail(id, "no clientca.pem");
		goto done;
	}
	if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_load_locations(store, cafile, NULL) != 1) {
		fail(id, "unable to load clientca.pem");
		goto done;
	}
	if (crlfile != NULL) {
		if (X509_STORE_load_locations(store, crlfile, NULL) != 1) {
			fail(id, "unable to load clientcrl.pem");
			goto done;
		}
		X509_STORE_set_flags(store,
		    X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	if ((sctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sctx, store, leaf, chain) != 1 ||
	    X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_CLIENT) != 1) {
		fail(id, "unable to set up verification");
		goto done;
	}
	if (X509_verify_cert(sctx) == 1) {
		id->verified = 1;
		id->reason[0] = '\0';
	} else
		fail(id, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(sctx)));
 done:
	ERR_clear_error();
	X509_STORE_CTX_free(sctx);
	X509_STORE_free(store);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	BIO_free(b);
}

/*
 * Is one of the certificate's addresses a line of tlsclients?  Only a
 * verified certificate can be listed.  Returns 1 (id->listed set), 0, or
 * -1 if tlsclients could not be read.
 */
int
certid_listed(struct certid *id, const char *dir, const char *file)
{
	size_t	 i;
	int	 r;

	id->listed = -1;
	if (!id->verified)
		return 0;
	for (i = 0; i < id->naddr; i++) {
		if ((r = control_hasline(dir, file, id->addr[i])) == -1)
			return -1;
		if (r == 1) {
			id->listed = (int)i;
			return 1;
		}
	}
	return 0;
}

/*
 * The server half (starttls-remote with control/tlshosts/<host>.pem): the
 * chain must verify against cafile for the TLS server purpose, and host
 * must be one of its names (subjectAltName dNSNames, or the CN when there
 * are none).  Returns 0, or -1 with the reason in why, worded as the
 * qmail-tls patch words it so that logs read the same.
 */
int
certid_server(const uint8_t *pem, size_t pemlen, const char *cafile,
    const char *host, char *why, size_t whylen)
{
	BIO		*b = NULL;
	X509		*leaf = NULL, *x;
	STACK_OF(X509)	*chain = NULL;
	X509_STORE	*store = NULL;
	X509_STORE_CTX	*sctx = NULL;
	GENERAL_NAMES	*alt;
	char		 cn[256];
	int		 i, ndns = 0, rv = -1;

	if (pem == NULL || pemlen == 0 ||
	    (b = BIO_new_mem_buf(pem, (int)pemlen)) == NULL ||
	    (leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "no certificate provided", host);
		goto done;
	}
	if ((chain = sk_X509_new_null()) == NULL)
		goto oom;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			goto oom;
		}
	if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_load_locations(store, cafile, NULL) != 1) {
		snprintf(why, whylen, "TLS unable to load %s", cafile);
		goto done;
	}
	if ((sctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sctx, store, leaf, chain) != 1 ||
	    X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER) != 1)
		goto oom;
	if (X509_verify_cert(sctx) != 1) {
		snprintf(why, whylen, "TLS unable to verify server with %s: %s",
		    cafile, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(sctx)));
		goto done;
	}
	if (X509_check_host(leaf, host, strlen(host), 0, NULL) == 1) {
		rv = 0;
		goto done;
	}
	/* the patch's three ways of saying the name is wrong (sic) */
	if ((alt = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL,
	    NULL)) != NULL) {
		for (i = 0; i < sk_GENERAL_NAME_num(alt); i++)
			if (sk_GENERAL_NAME_value(alt, i)->type == GEN_DNS)
				ndns++;
		GENERAL_NAMES_free(alt);
	}
	if (ndns > 0)
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "certificate contains no matching dNSNnames", host);
	else if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf),
	    NID_commonName, cn, sizeof(cn)) <= 0)
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "certificate contains no valid commonName", host);
	else {
		for (i = 0; cn[i] != '\0'; i++)
			if ((unsigned char)cn[i] < 33 ||
			    (unsigned char)cn[i] > 126)
				cn[i] = '?';
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "received certificate for %s", host, cn);
	}
	goto done;
 oom:
	snprintf(why, whylen, "TLS error initializing ctx: out of memory");
 done:
	ERR_clear_error();
	X509_STORE_CTX_free(sctx);
	X509_STORE_free(store);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	BIO_free(b);
	return rv;
}
