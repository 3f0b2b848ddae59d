/*
 * Unit tests: DANE in lib/remote/dane.c, which TLSA records SMTP can use and
 * whether a chain matches one.  The certificates are made here, in
 * memory, at test time: a CA, a leaf for mx.example.org signed by it, and
 * an expired leaf.
 */
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dane.h"
#include "pki.h"

static struct {
	EVP_PKEY	*cakey, *key;
	X509		*ca, *leaf, *expired, *other;
} pki;

static int
pki_make(void)
{
	if (pki.ca != NULL)
		return 0;
	if ((pki.cakey = pki_key()) == NULL || (pki.key = pki_key()) == NULL)
		return -1;
	pki.ca = pki_cert("DANE test CA", NULL, pki.cakey, NULL, pki.cakey,
	    -1, 30, 1);
	pki.leaf = pki_cert("mx.example.org", "DNS:mx.example.org", pki.key,
	    pki.ca, pki.cakey, -1, 30, 2);
	pki.expired = pki_cert("mx.example.org", "DNS:mx.example.org",
	    pki.key, pki.ca, pki.cakey, -30, -1, 3);
	pki.other = pki_cert("DANE other CA", NULL, pki.cakey, NULL,
	    pki.cakey, -1, 30, 4);
	return pki.leaf != NULL && pki.expired != NULL ? 0 : -1;
}

/* The chain as the handshake gives it: PEM, leaf first. */
static size_t
pem_chain(char *out, size_t outlen, X509 *leaf, X509 *second)
{
	return pki_pem(out, outlen, leaf, second);
}

/* A TLSA record's RDATA for x: usage, selector, matching type, data. */
static size_t
rdata(unsigned char *out, int usage, int selector, int mtype, X509 *x)
{
	unsigned char	*der = NULL;
	unsigned int	 mdlen = 0;
	int		 len;

	out[0] = (unsigned char)usage;
	out[1] = (unsigned char)selector;
	out[2] = (unsigned char)mtype;
	len = selector == 1 ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) :
	    i2d_X509(x, &der);
	if (mtype == 0)
		memcpy(out + 3, der, (size_t)(mdlen = (unsigned int)len));
	else
		EVP_Digest(der, (size_t)len, out + 3, &mdlen, mtype == 1 ?
		    EVP_sha256() : EVP_sha512(), NULL);
	OPENSSL_free(der);
	return 3 + mdlen;
}

static struct tlsa_set	 set;
static unsigned char	 rd[8192];
static char		 chain[16384], reason[512];

/* Does a set of the one record (usage, selector, mtype) of x match? */
static int
one(int usage, int selector, int mtype, X509 *x, X509 *leaf, X509 *second,
    const char *host)
{
	const struct tlsa	*m;
	size_t			 n = pem_chain(chain, sizeof(chain), leaf, second);

	memset(&set, 0, sizeof(set));
	dane_tlsa_add(&set, rd, rdata(rd, usage, selector, mtype, x));
	reason[0] = '\0';
	if (dane_match(&set, (const uint8_t *)chain, n, host, &m, reason,
	    sizeof(reason)) == -1)
		return -1;
	return m == &set.rr[0] ? 0 : -2;
}

static void
t_dane_ee(void)
{
	CHECK_INT(pki_make(), 0);
	CHECK_INT(one(3, 1, 1, pki.leaf, pki.leaf, pki.ca, "mx.example.org"), 0);
	CHECK_INT(one(3, 0, 1, pki.leaf, pki.leaf, NULL, "mx.example.org"), 0);
	CHECK_INT(one(3, 1, 2, pki.leaf, pki.leaf, NULL, "mx.example.org"), 0);
	CHECK_INT(one(3, 0, 0, pki.leaf, pki.leaf, NULL, "mx.example.org"), 0);
	/* no name, no date: any host, an expired leaf */
	CHECK_INT(one(3, 1, 1, pki.leaf, pki.leaf, NULL, "other.example"), 0);
	CHECK_INT(one(3, 0, 1, pki.expired, pki.expired, NULL, "x"), 0);
	/* the same key in another certificate: SPKI matches, cert not */
	CHECK_INT(one(3, 1, 1, pki.leaf, pki.expired, NULL, "x"), 0);
	CHECK_INT(one(3, 0, 1, pki.leaf, pki.expired, NULL, "x"), -1);
	CHECK_STR(reason, "No usable TLSA match for x");
	/* an EE record never matches the CA behind the leaf */
	CHECK_INT(one(3, 0, 1, pki.ca, pki.leaf, pki.ca, "mx.example.org"),
	    -1);
}
UNIT(t_dane_ee, "dane: DANE-EE matches the leaf, no name, no dates");

static void
t_dane_ta(void)
{
	CHECK_INT(pki_make(), 0);
	CHECK_INT(one(2, 0, 1, pki.ca, pki.leaf, pki.ca, "mx.example.org"), 0);
	CHECK_INT(one(2, 1, 1, pki.ca, pki.leaf, pki.ca, "MX.example.org"), 0);
	CHECK_INT(one(2, 1, 2, pki.ca, pki.leaf, pki.ca, "mx.example.org"), 0);
	/* the CA not sent: only a full record can stand in for it */
	CHECK_INT(one(2, 0, 1, pki.ca, pki.leaf, NULL, "mx.example.org"), -1);
	CHECK_STR(reason, "No usable TLSA match for mx.example.org");
	CHECK_INT(one(2, 0, 0, pki.ca, pki.leaf, NULL, "mx.example.org"), 0);
	/* the name and the dates count */
	CHECK_INT(one(2, 0, 1, pki.ca, pki.leaf, pki.ca, "other.example"), -1);
	CHECK(strstr(reason, "does not verify from its DANE-TA record") !=
	    NULL);
	CHECK_INT(one(2, 0, 1, pki.ca, pki.expired, pki.ca, "mx.example.org"),
	    -1);
	CHECK(strstr(reason, "certificate has expired") != NULL);
	/* a CA that did not sign the leaf, sent along: no chain from it */
	CHECK_INT(one(2, 0, 1, pki.other, pki.leaf, pki.other,
	    "mx.example.org"), -1);
}
UNIT(t_dane_ta, "dane: DANE-TA anchors the chain, names and dates count");

static void
t_tlsa_usable(void)
{
	static const unsigned char pkix_ee[35] = { 1, 1, 1 },
	    pkix_ta[35] = { 0, 0, 1 }, badsel[35] = { 3, 2, 1 },
	    badmt[35] = { 3, 1, 3 }, shortd[34] = { 3, 1, 1 },
	    longd[36] = { 3, 1, 1 }, sha512[67] = { 2, 1, 2 },
	    empty[3] = { 3, 1, 0 }, full[5] = { 3, 0, 0, 1, 2 };
	size_t	 i;

	memset(&set, 0, sizeof(set));
	dane_tlsa_add(&set, pkix_ee, sizeof(pkix_ee));
	dane_tlsa_add(&set, pkix_ta, sizeof(pkix_ta));
	dane_tlsa_add(&set, badsel, sizeof(badsel));
	dane_tlsa_add(&set, badmt, sizeof(badmt));
	dane_tlsa_add(&set, shortd, sizeof(shortd));
	dane_tlsa_add(&set, longd, sizeof(longd));
	dane_tlsa_add(&set, empty, sizeof(empty));
	dane_tlsa_add(&set, empty, 2);
	CHECK_INT(set.n, 0);
	CHECK_INT(set.unusable, 8);
	dane_tlsa_add(&set, sha512, sizeof(sha512));
	dane_tlsa_add(&set, full, sizeof(full));
	CHECK_INT(set.n, 2);
	CHECK_INT(set.rr[0].usage, TLSA_DANE_TA);
	CHECK_INT(set.rr[0].len, 64);
	CHECK_INT(set.rr[1].len, 2);
	for (i = 0; i < TLSA_MAXRR + 3; i++)
		dane_tlsa_add(&set, full, sizeof(full));
	CHECK_INT(set.n, TLSA_MAXRR);
	CHECK_INT(set.unusable, 8 + 3 + 2);
	/* no chain at all */
	CHECK_INT(dane_match(&set, (const uint8_t *)"", 0, "mx", &(const
	    struct tlsa *){ NULL }, reason, sizeof(reason)), -1);
	CHECK_STR(reason, "No certificate from mx");
}
UNIT(t_tlsa_usable, "dane: TLSA records SMTP cannot use are only counted");
