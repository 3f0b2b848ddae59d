/*
 * Unit tests: libtls configuration from the control files
 * (lib/tlsconf.c): whether a combined PEM file is a key pair libtls can
 * use, in words an administrator can act on, and the cipher lists.
 */
#include "unit.h"

#include "pki.h"
#include "tlsconf.h"

static char	 buf[32768], reason[256];

/* Key then certificate, with text between, as the qmail-tls patch has. */
static int
keypair(const char *passphrase, int keyfirst, int otherkey, int nocert)
{
	static EVP_PKEY	*key, *other;
	static X509	*leaf;
	size_t		 n = 0;

	if (key == NULL) {
		key = pki_key();
		other = pki_key();
		leaf = pki_cert("mx.example.org", "DNS:mx.example.org", key,
		    NULL, key, -1, 30, 1);
	}
	if (!keyfirst)
		n += pki_pem(buf + n, sizeof(buf) - n, leaf, NULL);
	n += pki_pem_key(buf + n, sizeof(buf) - n, otherkey ? other : key,
	    passphrase);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "junk between\n");
	if (keyfirst && !nocert)
		n += pki_pem(buf + n, sizeof(buf) - n, leaf, NULL);
	return tlsconf_keypair_check((const uint8_t *)buf, n, reason,
	    sizeof(reason));
}

static void
t_tlsconf_keypair(void)
{
	CHECK_INT(keypair(NULL, 1, 0, 0), 0);
	CHECK_INT(keypair(NULL, 0, 0, 0), 0);	/* certificate first: fine */
	CHECK_INT(keypair("secret", 1, 0, 0), -1);
	CHECK(strstr(reason, "its private key is encrypted") == reason);
	CHECK_INT(keypair(NULL, 1, 1, 0), -1);
	CHECK_STR(reason, "its private key does not belong to its first "
	    "certificate");
	CHECK_INT(keypair(NULL, 1, 0, 1), -1);
	CHECK_STR(reason, "it holds no certificate, only a key");
	CHECK_INT(tlsconf_keypair_check((const uint8_t *)"hello\n", 6, reason,
	    sizeof(reason)), -1);
	CHECK_STR(reason, "it holds no private key");
}
UNIT(t_tlsconf_keypair, "tlsconf: key pairs, and why one cannot be used");

static void
t_tlsconf_ciphers(void)
{
	char	 dir[] = "/tmp/tlsconf-unit.XXXXXX", path[64], *out;
	FILE	*f;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(tlsconf_ciphers("HIGH:!aNULL", dir, "tlsclientciphers",
	    &out), 0);			/* the environment wins */
	CHECK_STR(out, "HIGH:!aNULL");
	free(out);
	CHECK_INT(tlsconf_ciphers(NULL, dir, "tlsclientciphers", &out), 0);
	CHECK(out == NULL);		/* no file: libtls's default */
	snprintf(path, sizeof(path), "%s/tlsclientciphers", dir);
	CHECK((f = fopen(path, "w")) != NULL);
	fputs("ECDHE-RSA-AES128-GCM-SHA256\r\nECDHE-RSA-AES256-GCM-SHA384\n\n",
	    f);
	fclose(f);
	CHECK_INT(tlsconf_ciphers("", dir, "tlsclientciphers", &out), 0);
	CHECK_STR(out, "ECDHE-RSA-AES128-GCM-SHA256:"
	    "ECDHE-RSA-AES256-GCM-SHA384");	/* lines joined with ':' */
	free(out);
	unlink(path);
	rmdir(dir);
}
UNIT(t_tlsconf_ciphers, "tlsconf: cipher lists from the environment or lines");
