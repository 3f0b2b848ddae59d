/*
 * Unit tests: the server name in a ClientHello
 * (lib/smtpd/clienthello.c) and which names may pick a certificate file
 * (tlsconf_servername).
 */
#include <string.h>

#include "clienthello.h"
#include "tlsconf.h"
#include "unit.h"

/* A TLS record holding a ClientHello with the extensions given. */
static size_t
client_hello(uint8_t *out, const uint8_t *ext, size_t extlen)
{
	size_t	 n = 0, body;

	out[n++] = 22;			/* handshake */
	out[n++] = 3;
	out[n++] = 1;
	n += 2;				/* record length, below */
	out[n++] = 1;			/* client_hello */
	n += 3;				/* its length, below */
	body = n;
	out[n++] = 3;
	out[n++] = 3;
	memset(out + n, 0xab, 32);	/* random */
	n += 32;
	out[n++] = 0;			/* no session id */
	out[n++] = 0;
	out[n++] = 2;
	out[n++] = 0x13;		/* TLS_AES_128_GCM_SHA256 */
	out[n++] = 0x01;
	out[n++] = 1;
	out[n++] = 0;			/* null compression */
	out[n++] = (uint8_t)(extlen >> 8);
	out[n++] = (uint8_t)extlen;
	memcpy(out + n, ext, extlen);
	n += extlen;
	out[3] = (uint8_t)((n - 5) >> 8);
	out[4] = (uint8_t)(n - 5);
	out[body - 3] = 0;
	out[body - 2] = (uint8_t)((n - body) >> 8);
	out[body - 1] = (uint8_t)(n - body);
	return n;
}

/* a server_name extension for one host name */
static size_t
sni_ext(uint8_t *out, const char *name)
{
	size_t	 len = strlen(name), n = 0;

	out[n++] = 0;			/* supported_groups, to be skipped */
	out[n++] = 10;
	out[n++] = 0;
	out[n++] = 2;
	out[n++] = 0;
	out[n++] = 29;
	out[n++] = 0;			/* server_name */
	out[n++] = 0;
	out[n++] = (uint8_t)((len + 5) >> 8);
	out[n++] = (uint8_t)(len + 5);
	out[n++] = (uint8_t)((len + 3) >> 8);
	out[n++] = (uint8_t)(len + 3);
	out[n++] = 0;			/* host_name */
	out[n++] = (uint8_t)(len >> 8);
	out[n++] = (uint8_t)len;
	memcpy(out + n, name, len);
	return n + len;
}

static void
t_clienthello_servername(void)
{
	uint8_t	 rec[1024], ext[512];
	char	 name[256];
	size_t	 n, i;

	n = client_hello(rec, ext, sni_ext(ext, "Mail.Example.NET"));
	CHECK_INT(clienthello_servername(rec, n, name, sizeof(name)), CLIENTHELLO_NAME);
	CHECK_STR(name, "Mail.Example.NET");
	/* every cut of the record asks for more */
	for (i = 0; i < n; i++)
		CHECK_INT(clienthello_servername(rec, i, name, sizeof(name)),
		    CLIENTHELLO_MORE);
	/* a name that does not fit is no name */
	CHECK_INT(clienthello_servername(rec, n, name, 8), CLIENTHELLO_NONE);
	/* no extensions at all */
	n = client_hello(rec, ext, 0);
	CHECK_INT(clienthello_servername(rec, n, name, sizeof(name)), CLIENTHELLO_NONE);
	/* a NUL inside the name */
	n = client_hello(rec, ext, sni_ext(ext, "abc"));
	rec[n - 2] = '\0';
	CHECK_INT(clienthello_servername(rec, n, name, sizeof(name)), CLIENTHELLO_NONE);
	/* plaintext, or an alert, is not a hello */
	CHECK_INT(clienthello_servername((const uint8_t *)"EHLO x\r\n", 8, name,
	    sizeof(name)), CLIENTHELLO_NONE);
	CHECK_INT(clienthello_servername((const uint8_t *)"E", 1, name,
	    sizeof(name)), CLIENTHELLO_NONE);
	/* the server_name extension's length beyond the record */
	n = client_hello(rec, ext, sni_ext(ext, "x.example"));
	rec[n - sni_ext(ext, "x.example") + 8] = 0xff;
	CHECK_INT(clienthello_servername(rec, n, name, sizeof(name)), CLIENTHELLO_NONE);
}
UNIT(t_clienthello_servername, "clienthello_servername: SNI from the first record");

static void
t_tlsconf_servername(void)
{
	char	 out[TLSCONF_NAME_MAX + 1];
	char	 longname[300];

	CHECK_INT(tlsconf_servername("MX.Example.ORG", out, sizeof(out)), 1);
	CHECK_STR(out, "mx.example.org");
	CHECK_INT(tlsconf_servername("a-b_c.d1", out, sizeof(out)), 1);
	CHECK_INT(tlsconf_servername("", out, sizeof(out)), 0);
	CHECK_INT(tlsconf_servername("../servercert", out, sizeof(out)), 0);
	CHECK_INT(tlsconf_servername("a/b", out, sizeof(out)), 0);
	CHECK_INT(tlsconf_servername(".example.org", out, sizeof(out)), 0);
	CHECK_INT(tlsconf_servername("a..b", out, sizeof(out)), 0);
	CHECK_INT(tlsconf_servername("a.b.", out, sizeof(out)), 0);
	CHECK_INT(tlsconf_servername("*.example.org", out, sizeof(out)), 0);
	CHECK_INT(tlsconf_servername("a b", out, sizeof(out)), 0);
	memset(longname, 'a', sizeof(longname));
	longname[TLSCONF_NAME_MAX] = '\0';
	CHECK_INT(tlsconf_servername(longname, out, sizeof(out)), 1);
	longname[TLSCONF_NAME_MAX] = 'a';
	longname[TLSCONF_NAME_MAX + 1] = '\0';
	CHECK_INT(tlsconf_servername(longname, out, sizeof(out)), 0);
}
UNIT(t_tlsconf_servername, "tlsconf_servername: names that pick a file");
