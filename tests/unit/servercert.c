/*
 * Unit tests: a server's certificate checked for a host name
 * (lib/remote/servercert.c), as MTA-STS, tlsdestinations and tlshosts/
 * use it: a subjectAltName DNS name, a wildcard only as a whole first
 * label, the CN only for tlshosts/ and only without DNS names.
 */
#include "unit.h"

#include "pki.h"
#include "servercert.h"

static struct {
	EVP_PKEY	*cakey, *key;
	X509		*ca;
	char		 cafile[64];
} sc;

/* The test CA, in a file: servercert_verify() takes a path. */
static int
ca_make(void)
{
	char	 pem[8192];
	size_t	 n;
	int	 fd;

	if (sc.ca != NULL)
		return 0;
	if ((sc.cakey = pki_key()) == NULL || (sc.key = pki_key()) == NULL ||
	    (sc.ca = pki_cert("servercert test CA", NULL, sc.cakey, NULL,
	    sc.cakey, -1, 30, 1)) == NULL)
		return -1;
	n = pki_pem(pem, sizeof(pem), sc.ca, NULL);
	snprintf(sc.cafile, sizeof(sc.cafile), "/tmp/servercert-ca.XXXXXX");
	if ((fd = mkstemp(sc.cafile)) == -1)
		return -1;
	if (write(fd, pem, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Is a leaf for cn with san good for host under rule? */
static int
verify(const char *cn, const char *san, const char *host,
    enum servercert_name rule, char *reason, size_t reasonlen)
{
	char	 pem[8192];
	X509	*leaf;
	size_t	 n;
	int	 r;

	if (ca_make() == -1 || (leaf = pki_cert(cn, san, sc.key, sc.ca,
	    sc.cakey, -1, 30, 2)) == NULL)
		return -2;
	n = pki_pem(pem, sizeof(pem), leaf, NULL);
	r = servercert_verify((const uint8_t *)pem, n, sc.cafile, host, rule,
	    reason, reasonlen);
	X509_free(leaf);
	return r;
}

static void
t_servercert_names(void)
{
	char	 reason[512];

#define SAN	SERVERCERT_NAME_SAN
#define CN	SERVERCERT_NAME_SAN_OR_CN
	CHECK_INT(verify("x", "DNS:mx.example.org", "mx.example.org", SAN, reason,
	    sizeof(reason)), 0);
	CHECK_INT(verify("x", "DNS:mx.example.org", "MX.Example.Org", SAN, reason,
	    sizeof(reason)), 0);
	CHECK_INT(verify("x", "DNS:*.example.org", "mx.example.org", SAN, reason,
	    sizeof(reason)), 0);
	CHECK_INT(verify("x", "DNS:*.example.org", "a.mx.example.org", SAN,
	    reason, sizeof(reason)), -1);
	/* a partial wildcard is no wildcard, under either rule */
	CHECK_INT(verify("x", "DNS:m*.example.org", "mx.example.org", SAN, reason,
	    sizeof(reason)), -1);
	CHECK_STR(reason, "TLS unable to verify server mx.example.org: "
	    "certificate contains no matching dNSNnames");
	CHECK_INT(verify("x", "DNS:m*.example.org", "mx.example.org", CN, reason,
	    sizeof(reason)), -1);
	/* the CN: not for MTA-STS; for tlshosts/ only without DNS names */
	CHECK_INT(verify("mx.example.org", "", "mx.example.org", SAN, reason,
	    sizeof(reason)), -1);
	CHECK_STR(reason, "TLS unable to verify server mx.example.org: "
	    "certificate has no subjectAltName DNS names (its CN does not "
	    "count)");
	CHECK_INT(verify("mx.example.org", "", "mx.example.org", CN, reason,
	    sizeof(reason)), 0);
	CHECK_INT(verify("mx.example.org", "DNS:other.example.org",
	    "mx.example.org", CN, reason, sizeof(reason)), -1);
	CHECK_INT(verify("other.example.org", "", "mx.example.org", CN, reason,
	    sizeof(reason)), -1);
	CHECK_STR(reason, "TLS unable to verify server mx.example.org: received "
	    "certificate for other.example.org");
#undef SAN
#undef CN
}
UNIT(t_servercert_names, "servercert: SAN, whole-label wildcards, CN rules");

static void
t_servercert_chain(void)
{
	EVP_PKEY	*otherkey;
	X509		*other, *leaf;
	char		 pem[8192], reason[512];
	size_t		 n;

	CHECK_INT(ca_make(), 0);
	otherkey = pki_key();
	other = pki_cert("another CA", NULL, otherkey, NULL, otherkey, -1, 30,
	    3);
	leaf = pki_cert("x", "DNS:mx.example.org", sc.key, other, otherkey, -1,
	    30, 4);
	n = pki_pem(pem, sizeof(pem), leaf, NULL);
	CHECK_INT(servercert_verify((const uint8_t *)pem, n, sc.cafile,
	    "mx.example.org", SERVERCERT_NAME_SAN, reason, sizeof(reason)), -1);
	CHECK(strstr(reason, "TLS unable to verify server with ") == reason);
	CHECK_INT(servercert_verify((const uint8_t *)"", 0, sc.cafile,
	    "mx.example.org", SERVERCERT_NAME_SAN, reason, sizeof(reason)), -1);
	CHECK_STR(reason, "TLS unable to verify server mx.example.org: no "
	    "certificate provided");
	X509_free(leaf);
	X509_free(other);
	EVP_PKEY_free(otherkey);
	unlink(sc.cafile);
	X509_free(sc.ca);
	sc.ca = NULL;
}
UNIT(t_servercert_chain, "servercert: another CA's chain, no chain at all");
