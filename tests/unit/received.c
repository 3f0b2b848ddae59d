/*
 * Unit tests: qmail-smtpd's Received field found and told about TLS
 * (lib/smtpd/received.c).
 */
#include <string.h>

#include "received.h"
#include "unit.h"

#define LINE1	"Received: from relay1.uu.net (HELO uunet.uu.net) " \
		"(7@192.48.96.5)\n"
#define LINE2	"  by silverton.berkeley.edu with SMTP; 26 Sep 1995 " \
		"04:46:54 -0000\n"

static enum received_head
find(const char *s, size_t *word)
{
	size_t	 wordlen = 0;

	*word = 0;
	return received_find(s, strlen(s), word, &wordlen);
}

/* qmail-smtpd's own field, in each of its shapes */
static void
t_received_find_qmail(void)
{
	static const char *const fields[] = {
		LINE1 LINE2 "Subject: x\n",
		"Received: from unknown (1.2.3.4)\n" LINE2,
		"Received: from unknown (HELO ) (info@x@1.2.3.4)\n" LINE2,
		"Received: from h? (HELO a?b?\?) (::1)\n"
		"  by [::1] with SMTP; 1 Dec 2026 14:27:13 -0000\n",
		"Received: from  (HELO x) ()\n  by  with SMTP; 1 Jan 2000 "
		"00:00:00 -0000\n",
	};
	size_t	 i, word;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		CHECK_INT(find(fields[i], &word), RECEIVED_QMAIL);
		CHECK(strncmp(fields[i] + word, "SMTP; ", 6) == 0);
	}
}
UNIT(t_received_find_qmail, "received_find: qmail-smtpd's field");

/* everything else is left alone, and a cut-off field waits for more */
static void
t_received_find_other(void)
{
	static const char *const others[] = {
		"Subject: x\n\n",
		"received: from x (1.2.3.4)\n" LINE2,
		"Received: from x (1.2.3.4) extra\n" LINE2,
		"Received: from x y (1.2.3.4)\n" LINE2,
		LINE1 "  by x with ESMTP; 26 Sep 1995 04:46:54 -0000\n",
		LINE1 "  by x with SMTP; 26 Sep 1995 04:46:54 +0100\n",
		LINE1 "  by x with SMTP; 26 Sup 1995 04:46:54 -0000\n",
		LINE1 "  by x with SMTP; 126 Sep 1995 04:46:54 -0000\n",
		LINE1 "  by x with SMTP; 26 Sep 95 04:46:54 -0000\n",
		LINE1 "  by x with SMTP; 26 Sep 1995 4:46:54 -0000\n",
		LINE1 "  by x with SMTP; 26 Sep 1995 04:46:54 -0000 \n",
		LINE1 "\tby x with SMTP; 26 Sep 1995 04:46:54 -0000\n",
	};
	const char	*full = LINE1 LINE2;
	size_t		 i, n, word, wordlen;

	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		CHECK_INT(find(others[i], &word), RECEIVED_OTHER);
	for (n = 0; n < strlen(full); n++)
		CHECK_INT(received_find(full, n, &word, &wordlen),
		    RECEIVED_MORE);
}
UNIT(t_received_find_other, "received_find: others left, a cut waits");

/* a field that goes on for RECEIVED_MAX bytes is not qmail-smtpd's */
static void
t_received_find_bounded(void)
{
	static char	 big[RECEIVED_MAX + 16];
	size_t		 word, wordlen;

	memset(big, 'h', sizeof(big));
	memcpy(big, "Received: from ", 15);
	CHECK_INT(received_find(big, RECEIVED_MAX - 1, &word, &wordlen),
	    RECEIVED_MORE);
	CHECK_INT(received_find(big, RECEIVED_MAX, &word, &wordlen),
	    RECEIVED_OTHER);
}
UNIT(t_received_find_bounded, "received_find: bounded at RECEIVED_MAX");

static void
t_received_protocol(void)
{
	char	 out[256];

	CHECK_INT(received_protocol(out, sizeof(out), "TLSv1.3",
	    "TLS_AES_256_GCM_SHA384", "NONE"), (int)strlen(out));
	CHECK_STR(out, "ESMTPS (TLSv1.3, no client certificate) tls "
	    "TLS_AES_256_GCM_SHA384");
	received_protocol(out, sizeof(out), "TLSv1.2",
	    "ECDHE-RSA-AES128-GCM-SHA256", "SUCCESS");
	CHECK_STR(out, "ESMTPS (TLSv1.2, client certificate verified) tls "
	    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	received_protocol(out, sizeof(out), "TLSv1.3",
	    "AEAD-CHACHA20-POLY1305-SHA256", "FAILED:expired");
	CHECK_STR(out, "ESMTPS (TLSv1.3, client certificate not verified) "
	    "tls TLS_CHACHA20_POLY1305_SHA256");
	/* an unknown suite is named in the comment; odd bytes never pass */
	received_protocol(out, sizeof(out), "TLSv1.2", "ODD(x);\n", NULL);
	CHECK_STR(out, "ESMTPS (TLSv1.2 ODD?x?\?\?)");
	received_protocol(out, sizeof(out), "TLS v1", NULL, NULL);
	CHECK_STR(out, "ESMTPS (TLS?v1)");
	CHECK_INT(received_protocol(out, 20, "TLSv1.3",
	    "TLS_AES_256_GCM_SHA384", "NONE"), -1);
	CHECK(received_iana("RC4-MD5") == NULL);
}
UNIT(t_received_protocol, "received_protocol: RFC 3848 and RFC 8314 words");
