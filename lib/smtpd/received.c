/*
 * qmail-smtpd writes its own Received field first, before the message
 * (notqmail received.c):
 *
 *	Received: from relay1.uu.net (HELO uunet.uu.net) (7@192.48.96.5)
 *	  by silverton.berkeley.edu with SMTP; 26 Sep 1995 04:46:54 -0000
 *
 * Host names, HELO, remote info and addresses pass through its safeput(),
 * which makes every other character '?': they never hold a space or a
 * parenthesis, so the field can be matched exactly.  Forks add a few
 * characters ('_', '#', '[', ']'), which are taken too.  Only the word
 * after "with" is ever changed, to RFC 3848's ESMTPS with a comment and
 * RFC 8314's "tls" clause; anything else is left alone.
 */
#include <stdio.h>
#include <string.h>

#include "received.h"

enum step {
	STEP_OK,		/* matched so far */
	STEP_MORE,		/* the bytes ended while it still matched */
	STEP_NO			/* cannot be qmail-smtpd's field */
};

struct cursor {
	const char	*p;
	const char	*end;
};

static int
is_safe(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr(".@%+/=:-_#[]?",
	    c) != NULL);
}

static enum step
literal(struct cursor *c, const char *s)
{
	for (; *s != '\0'; s++, c->p++) {
		if (c->p == c->end)
			return STEP_MORE;
		if (*c->p != *s)
			return STEP_NO;
	}
	return STEP_OK;
}

/* safeput()'s output: any number of safe characters */
static enum step
safe(struct cursor *c)
{
	while (c->p < c->end && is_safe(*c->p))
		c->p++;
	return c->p == c->end ? STEP_MORE : STEP_OK;
}

static enum step
digits(struct cursor *c, int min, int max)
{
	int	 n;

	for (n = 0; n < max && c->p < c->end && *c->p >= '0' &&
	    *c->p <= '9'; n++)
		c->p++;
	if (n < max && c->p == c->end)
		return STEP_MORE;
	return n >= min ? STEP_OK : STEP_NO;
}

static enum step
month(struct cursor *c)
{
	static const char	 names[] = "JanFebMarAprMayJunJulAugSepOctNov"
	    "Dec";
	const char		*m;
	enum step		 r;

	for (m = names; *m != '\0'; m += 3) {
		struct cursor	 try = *c;

		if ((r = literal(&try, (char [4]){ m[0], m[1], m[2], '\0' })) !=
		    STEP_NO) {
			*c = try;
			return r;
		}
	}
	return STEP_NO;
}

/* date822fmt(): "26 Sep 1995 04:46:54 -0000\n" */
static enum step
date(struct cursor *c)
{
	enum step	 r;

	if ((r = digits(c, 1, 2)) != STEP_OK ||
	    (r = literal(c, " ")) != STEP_OK || (r = month(c)) != STEP_OK ||
	    (r = literal(c, " ")) != STEP_OK ||
	    (r = digits(c, 4, 4)) != STEP_OK ||
	    (r = literal(c, " ")) != STEP_OK ||
	    (r = digits(c, 2, 2)) != STEP_OK ||
	    (r = literal(c, ":")) != STEP_OK ||
	    (r = digits(c, 2, 2)) != STEP_OK ||
	    (r = literal(c, ":")) != STEP_OK ||
	    (r = digits(c, 2, 2)) != STEP_OK)
		return r;
	return literal(c, " -0000\n");
}

/* "Received: from host (HELO helo) (info@ip)\n", the HELO part optional */
static enum step
from_line(struct cursor *c)
{
	struct cursor	 helo;
	enum step	 r;

	if ((r = literal(c, "Received: from ")) != STEP_OK ||
	    (r = safe(c)) != STEP_OK || (r = literal(c, " (")) != STEP_OK)
		return r;
	helo = *c;
	if ((r = literal(&helo, "HELO ")) == STEP_MORE)
		return r;
	if (r == STEP_OK) {
		if ((r = safe(&helo)) != STEP_OK ||
		    (r = literal(&helo, ") (")) != STEP_OK)
			return r;
		*c = helo;
	}
	if ((r = safe(c)) != STEP_OK)
		return r;
	return literal(c, ")\n");
}

/*
 * Does head (the first len bytes of a message) begin with qmail-smtpd's
 * own Received field?  If so, *word and *wordlen say where its protocol
 * ("SMTP") is.  A field that has not ended within RECEIVED_MAX bytes is
 * not taken to be one.
 */
enum received_head
received_find(const char *head, size_t len, size_t *word, size_t *wordlen)
{
	struct cursor	 c = { head, head + len };
	enum step	 r;
	size_t		 at = 0;

	if ((r = from_line(&c)) == STEP_OK &&
	    (r = literal(&c, "  by ")) == STEP_OK &&
	    (r = safe(&c)) == STEP_OK &&
	    (r = literal(&c, " with ")) == STEP_OK &&
	    (at = (size_t)(c.p - head), r = literal(&c, "SMTP; ")) ==
	    STEP_OK)
		r = date(&c);
	if (r == STEP_OK) {
		*word = at;
		*wordlen = 4;
		return RECEIVED_QMAIL;
	}
	if (r == STEP_MORE && len < RECEIVED_MAX)
		return RECEIVED_MORE;
	return RECEIVED_OTHER;
}

/*
 * The IANA name of a cipher suite (RFC 8314's "tls" clause wants it) from
 * the name the TLS library gives: TLS 1.3 names are IANA's already in
 * OpenSSL; LibreSSL calls them AEAD-...; for TLS 1.2, the suites that
 * tlsserverciphers allows by default and their DHE kin.  NULL when not
 * known.
 */
const char *
received_iana(const char *cipher)
{
	static const char *const names[][2] = {
		{ "AEAD-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256" },
		{ "AEAD-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384" },
		{ "AEAD-CHACHA20-POLY1305-SHA256",
		    "TLS_CHACHA20_POLY1305_SHA256" },
		{ "ECDHE-ECDSA-AES128-GCM-SHA256",
		    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
		{ "ECDHE-ECDSA-AES256-GCM-SHA384",
		    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" },
		{ "ECDHE-ECDSA-CHACHA20-POLY1305",
		    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" },
		{ "ECDHE-RSA-AES128-GCM-SHA256",
		    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" },
		{ "ECDHE-RSA-AES256-GCM-SHA384",
		    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" },
		{ "ECDHE-RSA-CHACHA20-POLY1305",
		    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
		{ "DHE-RSA-AES128-GCM-SHA256",
		    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" },
		{ "DHE-RSA-AES256-GCM-SHA384",
		    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" },
		{ "DHE-RSA-CHACHA20-POLY1305",
		    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
	};
	size_t	 i;

	if (cipher == NULL)
		return NULL;
	if (strncmp(cipher, "TLS_", 4) == 0)
		return cipher;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(cipher, names[i][0]) == 0)
			return names[i][1];
	return NULL;
}

/* A TLS fact from the environment, with nothing but name characters. */
static void
token(char *out, size_t outlen, const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen; i++)
		out[i] = ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("._-", s[i]) != NULL) ? s[i] : '?';
	out[i] = '\0';
}

/*
 * What goes after "with" in place of "SMTP", from $SSL_PROTOCOL,
 * $SSL_CIPHER and $SSL_CLIENT_VERIFY (any but the first may be NULL):
 *
 *	ESMTPS (TLSv1.3, no client certificate) tls TLS_AES_256_GCM_SHA384
 *
 * with the library's cipher name in the comment when its IANA name is
 * not known.  The length written, or -1 when it does not fit.
 */
int
received_protocol(char *out, size_t outlen, const char *version,
    const char *cipher, const char *verify)
{
	char		 v[64], ci[128];
	const char	*iana, *cert = NULL;
	int		 n;

	token(v, sizeof(v), version);
	token(ci, sizeof(ci), cipher != NULL ? cipher : "");
	iana = received_iana(ci[0] != '\0' ? ci : NULL);
	if (verify == NULL)
		cert = NULL;
	else if (strcmp(verify, "NONE") == 0)
		cert = "no client certificate";
	else if (strcmp(verify, "SUCCESS") == 0)
		cert = "client certificate verified";
	else
		cert = "client certificate not verified";
	n = snprintf(out, outlen, "ESMTPS (%s%s%s%s%s)%s%s", v,
	    iana == NULL && ci[0] != '\0' ? " " : "",
	    iana == NULL ? ci : "", cert != NULL ? ", " : "",
	    cert != NULL ? cert : "", iana != NULL ? " tls " : "",
	    iana != NULL ? iana : "");
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}
