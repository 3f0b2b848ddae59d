/*
 * Is the server who we meant: its chain verified against a CA file and
 * its names against the host (RFC 6125), for tlshosts/<host>.pem,
 * MTA-STS and tlsdestinations.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "chain.h"
#include "servercert.h"
#include "text.h"

/*
 * The server half : the chain must verify against
 * cafile for the TLS server purpose, and host must be one of its names:
 * a subjectAltName dNSName, or with SERVERCERT_NAME_SAN_OR_CN the CN when
 * there are none (the qmail-tls patch's rule, for tlshosts/).  A
 * wildcard counts only as a whole left-most label, never "m*.example";
 * an attacker can have a CA issue it almost any odd name.  Returns 0,
 * or -1 with the reason in why, worded as the qmail-tls patch words it
 * so that logs read the same.
 */
/*
 * Why leaf does not name host, in the qmail-tls patch's three ways
 * (sic), and a fourth for a rule that does not count the CN.
 */
static void
name_mismatch(X509 *leaf, const char *host, enum servercert_name rule,
    char *why, size_t whylen)
{
	GENERAL_NAMES	*alt;
	char		 cn[256];
	int		 i, ndns = 0;

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
	else if (rule == SERVERCERT_NAME_SAN)
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "certificate has no subjectAltName DNS names (its CN does "
		    "not count)", host);
	else if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf),
	    NID_commonName, cn, sizeof(cn)) <= 0)
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "certificate contains no valid commonName", host);
	else {
		for (i = 0; cn[i] != '\0'; i++)
			cn[i] = (char)text_safe(cn[i], TEXT_NOSPACE);
		snprintf(why, whylen, "TLS unable to verify server %s: "
		    "received certificate for %s", host, cn);
	}
}

int
servercert_verify(const uint8_t *pem, size_t pemlen, const char *cafile,
    const char *host, enum servercert_name rule, char *why, size_t whylen)
{
	struct chain	 c;
	X509_STORE	*store;
	const char	*reason = NULL;
	int		 r, rv = -1;

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
	if (r == CHAIN_BAD)
		snprintf(why, whylen, "TLS unable to verify server with %s: %s",
		    cafile, reason);
	else if (r == CHAIN_NOCA)
		snprintf(why, whylen, "TLS unable to load %s", cafile);
	else if (r != CHAIN_OK)
		snprintf(why, whylen, "TLS error initializing ctx");
	else if (X509_check_host(c.leaf, host, strlen(host),
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | (rule == SERVERCERT_NAME_SAN ?
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT : 0), NULL) == 1)
		rv = 0;
	else
		name_mismatch(c.leaf, host, rule, why, whylen);
	ERR_clear_error();
	X509_STORE_free(store);
	chain_free(&c);
	return rv;
}

/*
 * The DNS names of the leaf of a chain (PEM, leaf first, keys and text
 * between passed over), into names: how many, at most max.
 */
size_t
servercert_names(const uint8_t *pem, size_t pemlen, char (*names)[256],
    size_t max)
{
	struct chain	 c;
	GENERAL_NAMES	*alt;
	GENERAL_NAME	*g;
	size_t		 n = 0;
	int		 i, len;

	if (chain_read(&c, pem, pemlen) == -1)
		return 0;
	alt = X509_get_ext_d2i(c.leaf, NID_subject_alt_name, NULL, NULL);
	for (i = 0; alt != NULL && i < sk_GENERAL_NAME_num(alt) && n < max;
	    i++) {
		g = sk_GENERAL_NAME_value(alt, i);
		if (g->type != GEN_DNS || (len = ASN1_STRING_length(
		    g->d.dNSName)) <= 0 || len > 255)
			continue;
		memcpy(names[n], ASN1_STRING_get0_data(g->d.dNSName),
		    (size_t)len);
		names[n++][len] = '\0';
	}
	GENERAL_NAMES_free(alt);
	chain_free(&c);
	return n;
}
