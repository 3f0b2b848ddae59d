/*
 * Who the client is: its certificate judged against clientca.pem and
 * clientcrl.pem, and its address looked up in tlsclients, for
 * RELAYCLIENT.
 *
 * libtls cannot be left to judge client certificates: with
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
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "chain.h"
#include "clientid.h"
#include "control.h"

#define PEM_MAX		(64 * 1024 * 1024)	/* a CA bundle, or CRLs */

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
addr_add(struct clientid *id, const ASN1_STRING *s)
{
	const unsigned char	*p = ASN1_STRING_get0_data(s);
	int			 len = ASN1_STRING_length(s);
	size_t			 i;

	if (id->naddr == CLIENTID_MAXADDR || p == NULL || !addr_ok(p, len))
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
addr_collect(struct clientid *id, X509 *leaf)
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
subject_print(struct clientid *id, X509 *leaf)
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
fail(struct clientid *id, const char *why)
{
	id->verified = 0;
	snprintf(id->reason, sizeof(id->reason), "%s", why);
}

/* clientca.pem and clientcrl.pem as a store: CHAIN_OK or why not. */
static int
trust_store(struct clientid_trust *t, X509_STORE **store, int *crlcheck)
{
	int	 r;

	*store = NULL;
	*crlcheck = 0;
	if (lazyfile_get(&t->ca, PEM_MAX) != 1)
		return CHAIN_NOCA;
	if ((*store = X509_STORE_new()) == NULL)
		return CHAIN_SETUP;
	if (chain_store_addpem(*store, t->ca.data, t->ca.len) == -1)
		return CHAIN_NOCA;
	if ((r = lazyfile_get(&t->crl, PEM_MAX)) == -1 || (r == 1 &&
	    chain_store_addpem(*store, t->crl.data, t->crl.len) == -1))
		return CHAIN_NOCRL;
	*crlcheck = r == 1;
	return CHAIN_OK;
}

/* Nothing to judge certificates with (no clientca.pem). */
void
clientid_init(struct clientid_trust *t)
{
	lazyfile_init(&t->ca);
	lazyfile_init(&t->crl);
	lazyfile_init(&t->clients);
}

/*
 * Open what clientid_check() and clientid_listed() may need.  Failures are
 * kept and reported when a certificate is judged, as before the sandbox.
 */
void
clientid_load(struct clientid_trust *t, const char *dir)
{
	clientid_init(t);
	lazyfile_open(&t->ca, dir, "clientca.pem");
	if (t->ca.fd == -1)
		return;		/* nothing can be verified, or listed */
	lazyfile_open(&t->crl, dir, "clientcrl.pem");
	lazyfile_open(&t->clients, dir, "tlsclients");
}

void
clientid_unload(struct clientid_trust *t)
{
	lazyfile_close(&t->ca);
	lazyfile_close(&t->crl);
	lazyfile_close(&t->clients);
}

/*
 * Judge the chain the client presented (PEM, leaf first, as libtls's
 * tls_peer_cert_chain_pem() gives it) against clientca.pem and, if it
 * exists, clientcrl.pem.
 */
void
clientid_check(struct clientid *id, const uint8_t *pem, size_t pemlen,
    struct clientid_trust *t)
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
	if (lazyfile_get(&t->ca, PEM_MAX) == 0)
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
clientid_listed(struct clientid *id, struct clientid_trust *t)
{
	size_t	 i;
	int	 r;

	id->listed = -1;
	if (!id->verified || id->naddr == 0)
		return 0;
	if ((r = lazyfile_get(&t->clients, CONTROL_MAX)) == -1) {
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
