/*
 * control/tlsdestinations: TLS required (or refused) per destination,
 * for partners that publish no policy of their own.  The file and its
 * line shape are s/qmail's, "destination:rule":
 *
 *	partner.example:verify
 *	.partner.example:verify ca=/etc/ssl/partner-ca.pem
 *	bank.example:verify mx=mx1.bank.example,*.mail.bank.example
 *	legacy.example:none
 *	signed.example:dane
 *	*:may
 *
 * The destination is the recipient domain (or the smtproutes relay): a
 * name, ".name" for every domain below it, or "*" for the rest; the
 * most specific line wins.  The rules are none, may, encrypt, verify and
 * dane; s/qmail's own forms read as they meant there: "!dest:" none,
 * "dest:" encrypt ("*:" may), "dest:FILE" and "=dest:FILE" verify with
 * the CAs in FILE (its "|ciphers|depth" after FILE are left to
 * tlsclientciphers and the library).  A line that cannot be read is
 * kept with its error: mail to its destination waits rather than go
 * with less than the administrator asked for.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mxname.h"
#include "tlsdest.h"

static const char *const levels[] = {
	"none", "may", "encrypt", "verify", "dane", NULL
};

const char *
tlsdest_level_name(enum tlsdest_level l)
{
	return levels[l];
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The destination, dest[0, len), in lower case into t->dest; 0 or -1. */
static int
destination(const char *dest, size_t len, struct tlsdest *t)
{
	char	 name[MXNAME_MAX];
	size_t	 i;

	if (len == 0 || len >= sizeof(t->dest))
		return -1;
	for (i = 0; i < len; i++)
		t->dest[i] = (char)tolower((unsigned char)dest[i]);
	t->dest[len] = '\0';
	if (strcmp(t->dest, "*") == 0)
		return 0;
	/* an smtproutes relay given as an address: "[192.0.2.1]" */
	if (t->dest[0] == '[' && t->dest[len - 1] == ']' &&
	    strchr(t->dest + 1, '[') == NULL && strchr(t->dest, ']') ==
	    t->dest + len - 1)
		return 0;
	return mxname_normal(t->dest + (t->dest[0] == '.'), name,
	    sizeof(name)) && strcmp(name, t->dest + (t->dest[0] == '.')) ==
	    0 ? 0 : -1;
}

/* mx=a,b,c into t->mx; 0 or -1. */
static int
mx_patterns(const char *s, size_t len, struct tlsdest *t)
{
	const char	*comma, *end = s + len;
	size_t		 n;

	for (; s < end; s = comma + 1) {
		if ((comma = memchr(s, ',', (size_t)(end - s))) == NULL)
			comma = end;
		n = (size_t)(comma - s);
		if (!mxname_pattern(s, n, t->mx + t->mxlen,
		    sizeof(t->mx) - t->mxlen))
			return -1;
		t->mxlen += strlen(t->mx + t->mxlen) + 1;
	}
	return t->mxlen > 0 ? 0 : -1;
}

#define ERROR(...)	(snprintf(t->error, sizeof(t->error), __VA_ARGS__), -1)

/* One option after the rule: ca=FILE or mx=PATTERNS. */
static int
option(const char *w, size_t n, struct tlsdest *t)
{
	if (n > 3 && memcmp(w, "ca=", 3) == 0) {
		if (t->level != TLSDEST_VERIFY)
			return ERROR("ca= goes with verify only");
		if (n - 3 >= sizeof(t->cafile))
			return ERROR("a ca= path too long");
		memcpy(t->cafile, w + 3, n - 3);
		t->cafile[n - 3] = '\0';
		return 0;
	}
	if (n > 3 && memcmp(w, "mx=", 3) == 0) {
		if (t->mxlen > 0 || mx_patterns(w + 3, n - 3, t) == -1)
			return ERROR("a bad mx= list: %.*s", (int)(n > 60 ? 60 :
			    n), w);
		return 0;
	}
	return ERROR("unknown option %.*s", (int)(n > 60 ? 60 : n), w);
}

/* The words after "destination:", s/qmail's single FILE among them. */
static int
rule(const char *s, size_t len, int star, struct tlsdest *t)
{
	const char	*end = s + len, *w, *bar;
	size_t		 n, i;

	while (s < end && is_space(*s))
		s++;
	if (s == end) {
		t->level = star ? TLSDEST_MAY : TLSDEST_ENCRYPT;
		return 0;
	}
	for (w = s; s < end && !is_space(*s); s++)
		;
	n = (size_t)(s - w);
	for (i = 0; levels[i] != NULL; i++)
		if (strlen(levels[i]) == n && memcmp(w, levels[i], n) == 0)
			break;
	if (levels[i] == NULL) {
		/* s/qmail: "dest:cafile|ciphers|verifydepth;port|domain" */
		if ((bar = memchr(w, '|', n)) != NULL)
			n = (size_t)(bar - w);
		if (memchr(w, ';', (size_t)(end - w)) != NULL)
			return ERROR("s/qmail's ;port is not supported: give "
			    "the port in smtproutes");
		/* a path has a '/' or a '.': a bare word is a rule misspelt */
		if (n == 0 || memchr(w, '=', n) != NULL || (bar == NULL &&
		    s != end) || (memchr(w, '/', n) == NULL &&
		    memchr(w, '.', n) == NULL))
			return ERROR("unknown rule %.*s", (int)(n > 60 ? 60 :
			    n), w);
		if (n >= sizeof(t->cafile))
			return ERROR("a CA file path too long");
		t->level = TLSDEST_VERIFY;
		memcpy(t->cafile, w, n);
		t->cafile[n] = '\0';
		return 0;
	}
	t->level = (enum tlsdest_level)i;
	while (s < end) {
		while (s < end && is_space(*s))
			s++;
		for (w = s; s < end && !is_space(*s); s++)
			;
		if (s > w && option(w, (size_t)(s - w), t) == -1)
			return -1;
	}
	return 0;
}

/*
 * One line of the file (without its newline) into t: 0, 1 for a blank
 * line or a comment, -1 with t->error when it cannot be read (t->dest
 * is set if at least its destination could be).
 */
int
tlsdest_parse(const char *s, size_t len, struct tlsdest *t)
{
	const char	*colon;
	char		 prefix = '\0';

	memset(t, 0, sizeof(*t));
	t->level = TLSDEST_MAY;
	while (len > 0 && is_space(s[len - 1]))
		len--;
	while (len > 0 && is_space(*s)) {
		s++;
		len--;
	}
	if (len == 0 || s[0] == '#')
		return 1;
	if ((colon = memchr(s, ':', len)) == NULL)
		return ERROR("no ':' after the destination");
	if (strchr("!=~+-%", s[0]) != NULL) {
		prefix = s[0];
		s++;
		len--;
	}
	if (destination(s, (size_t)(colon - s), t) == -1) {
		t->dest[0] = '\0';
		return ERROR("a bad destination: %.*s", (int)(colon - s > 60 ?
		    60 : colon - s), s);
	}
	/* known, but not ours to honour: its destination's mail waits */
	if (prefix != '\0' && prefix != '!' && prefix != '=')
		return ERROR("s/qmail's %c rules are not supported", prefix);
	if (prefix == '!') {
		t->level = TLSDEST_NONE;
		return 0;
	}
	return rule(colon + 1, len - (size_t)(colon + 1 - s),
	    strcmp(t->dest, "*") == 0, t);
}

/*
 * How closely does line destination dest cover domain (lower case, no
 * trailing dot)?  -1 not at all, 0 "*", 1 + its length for ".suffix",
 * and more than any suffix for the domain itself.
 */
static long
covers(const char *dest, const char *domain)
{
	size_t	 dlen = strlen(dest), len = strlen(domain);

	if (strcmp(dest, "*") == 0)
		return 0;
	if (dest[0] == '.')
		return len > dlen && strcmp(domain + len - dlen, dest) == 0 ?
		    1 + (long)dlen : -1;
	return strcmp(dest, domain) == 0 ? 1 + MXNAME_MAX : -1;
}

/*
 * The rule for domain in the file text (len bytes): 1 with it in t, or 0
 * when no line covers domain.  A line whose rule cannot be read still
 * covers its destination, and comes back with t->error set.
 */
int
tlsdest_find(const char *text, size_t len, const char *domain,
    struct tlsdest *t)
{
	struct tlsdest	 cur;
	const char	*line, *nl, *end = text + len;
	char		 key[MXNAME_MAX + 2];
	size_t		 i, klen = strlen(domain);
	long		 best = -1, c;
	int		 n = 0;

	if (klen > 0 && domain[klen - 1] == '.')
		klen--;
	if (klen >= sizeof(key))
		return 0;
	for (i = 0; i < klen; i++)
		key[i] = (char)tolower((unsigned char)domain[i]);
	key[klen] = '\0';
	for (line = text; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		n++;
		if (tlsdest_parse(line, (size_t)(nl - line), &cur) == 1 ||
		    cur.dest[0] == '\0')
			continue;
		if ((c = covers(cur.dest, key)) > best) {
			best = c;
			*t = cur;
			t->line = n;
		}
	}
	return best >= 0;
}

/*
 * May the MX host name (mxname_normal's; NULL for one that is no name)
 * serve the destination domain under rule t?  Under its mx= list when
 * it has one; under verify without one, a name in the domain or below
 * it (a certificate for a name the attacker chose proves nothing); any
 * host otherwise.
 */
int
tlsdest_allows(const struct tlsdest *t, const char *domain, const char *name)
{
	const char	*m;
	size_t		 dlen = strlen(domain), nlen;

	if (t->mxlen > 0) {
		for (m = t->mx; name != NULL && m < t->mx + t->mxlen;
		    m += strlen(m) + 1)
			if (mxname_match(m, name))
				return 1;
		return 0;
	}
	if (t->level != TLSDEST_VERIFY)
		return 1;
	if (name == NULL)
		return 0;
	if (dlen > 0 && domain[dlen - 1] == '.')
		dlen--;
	nlen = strlen(name);
	return (nlen == dlen && strncasecmp(name, domain, dlen) == 0) ||
	    (nlen > dlen && name[nlen - dlen - 1] == '.' &&
	    strncasecmp(name + nlen - dlen, domain, dlen) == 0);
}
