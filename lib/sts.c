/*
 * MTA-STS (RFC 8461), the parsing: the TXT record at _mta-sts.<domain>,
 * the HTTP response from https://mta-sts.<domain>/.well-known/mta-sts.txt
 * and the policy in it.  All of it is remote input, read strictly: what
 * does not parse is no policy (RFC 8461 3.2 and 3.3).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mxname.h"
#include "sts.h"

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* The first "\r\n" (crlfcrlf: "\r\n\r\n") in s, or NULL. */
static const char *
crlf(const char *s, size_t len, int crlfcrlf)
{
	size_t	 i, n = crlfcrlf ? 4 : 2;

	for (i = 0; i + n <= len; i++)
		if (memcmp(s + i, "\r\n\r\n", n) == 0)
			return s + i;
	return NULL;
}

/*
 * One TXT record (its strings joined): 0 and the id if it is an STSv1
 * record, "v=STSv1; id=<1-32 letters and digits>" with optional
 * extensions (RFC 8461 3.1), 1 if it is some other TXT record, -1 if it
 * says v=STSv1 but does not parse.
 */
int
sts_txt(const char *txt, size_t len, char *id, size_t idlen)
{
	size_t	 i = 7, start, n;
	int	 gotid = 0;

	if (len < 7 || memcmp(txt, "v=STSv1", 7) != 0)
		return 1;
	while (i < len) {
		while (i < len && is_wsp(txt[i]))
			i++;
		if (i == len)
			break;
		if (txt[i++] != ';')
			return -1;
		while (i < len && is_wsp(txt[i]))
			i++;
		if (i == len)
			break;			/* a trailing ";" */
		for (start = i; i < len && txt[i] != '=' && txt[i] != ';' &&
		    !is_wsp(txt[i]); i++)
			if (!isalnum((unsigned char)txt[i]) && txt[i] != '_' &&
			    txt[i] != '-' && txt[i] != '.')
				return -1;
		if (i == start || i - start > 32 || i == len || txt[i] != '=')
			return -1;
		n = i - start;
		if (n == 2 && memcmp(txt + start, "id", 2) == 0) {
			for (start = ++i; i < len &&
			    isalnum((unsigned char)txt[i]); i++)
				;
			if (gotid || i == start || i - start > STS_IDMAX ||
			    i - start >= idlen)
				return -1;
			memcpy(id, txt + start, i - start);
			id[i - start] = '\0';
			gotid = 1;
			continue;
		}
		/* an extension: name=value, value of %x21-3A / %x3C / %x3E-7E */
		for (start = ++i; i < len && txt[i] > 0x20 && txt[i] < 0x7f &&
		    txt[i] != ';' && txt[i] != '='; i++)
			;
		if (i == start)
			return -1;
	}
	return gotid ? 0 : -1;
}

/* One "key: value" line of a policy into p; -1 with why if it is bad. */
static int
policy_field(struct sts_policy *p, const char *key, size_t klen,
    const char *val, size_t vlen, int *seen, char *why, size_t whylen)
{
	char	*end, num[16];

#define KEY(s) (klen == sizeof(s) - 1 && memcmp(key, s, klen) == 0)
#define VAL(s) (vlen == sizeof(s) - 1 && memcmp(val, s, vlen) == 0)
	if (KEY("mx")) {
		/* ".example.com" is a local rule's pattern, not MTA-STS's */
		if (vlen == 0 || val[0] == '.' || !mxname_pattern(val, vlen,
		    p->mx + p->mxlen, sizeof(p->mx) - p->mxlen)) {
			snprintf(why, whylen, "a bad mx pattern");
			return -1;
		}
		p->mxlen += strlen(p->mx + p->mxlen) + 1;
		p->nmx++;
		return 0;
	}
	if (KEY("version") && !(*seen & 1)) {
		*seen |= 1;
		if (!VAL("STSv1")) {
			snprintf(why, whylen, "not version STSv1");
			return -1;
		}
	} else if (KEY("mode") && !(*seen & 2)) {
		*seen |= 2;
		if (VAL("enforce"))
			p->mode = STS_MODE_ENFORCE;
		else if (VAL("testing"))
			p->mode = STS_MODE_TESTING;
		else if (VAL("none"))
			p->mode = STS_MODE_NONE;
		else {
			snprintf(why, whylen, "an unknown mode");
			return -1;
		}
	} else if (KEY("max_age") && !(*seen & 4)) {
		*seen |= 4;
		if (vlen == 0 || vlen > 10)
			goto badage;
		memcpy(num, val, vlen);
		num[vlen] = '\0';
		if (!isdigit((unsigned char)num[0]))
			goto badage;
		p->max_age = strtol(num, &end, 10);
		if (*end != '\0' || p->max_age > STS_MAXAGE)
			goto badage;
	}
	return 0;		/* a field repeated, or unknown: ignored */
 badage:
	snprintf(why, whylen, "a bad max_age");
	return -1;
#undef KEY
#undef VAL
}

/*
 * A policy body (RFC 8461 3.2): "key: value" lines ending in LF or CRLF,
 * version STSv1, a mode, a max_age up to a year, and at least one mx
 * pattern unless the mode is none.  0, or -1 with why.
 */
int
sts_policy_parse(const char *body, size_t len, struct sts_policy *p,
    char *why, size_t whylen)
{
	const char	*line = body, *end = body + len, *nl, *colon, *v, *e;
	int		 seen = 0;

	memset(p, 0, sizeof(*p));
	p->max_age = -1;
	for (; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		e = nl > line && nl[-1] == '\r' ? nl - 1 : nl;
		if (e == line)
			continue;		/* a blank line */
		if ((colon = memchr(line, ':', (size_t)(e - line))) == NULL ||
		    colon == line) {
			snprintf(why, whylen, "a line that is not key: value");
			return -1;
		}
		for (v = colon + 1; v < e && is_wsp(*v); v++)
			;
		while (e > v && is_wsp(e[-1]))
			e--;
		if (policy_field(p, line, (size_t)(colon - line), v,
		    (size_t)(e - v), &seen, why, whylen) == -1)
			return -1;
	}
	if ((seen & 7) != 7) {
		snprintf(why, whylen, "no %s", !(seen & 1) ? "version" :
		    !(seen & 2) ? "mode" : "max_age");
		return -1;
	}
	if (p->nmx == 0 && p->mode != STS_MODE_NONE) {
		snprintf(why, whylen, "no mx");
		return -1;
	}
	return 0;
}

/* The value of header name in the head (CRLF lines), or NULL. */
static const char *
header(const char *head, size_t len, const char *name, size_t *vlen)
{
	const char	*line = head, *end = head + len, *nl, *v;
	size_t		 n = strlen(name);

	for (; line < end; line = nl + 2) {
		if ((nl = crlf(line, (size_t)(end - line), 0)) == NULL)
			nl = end;
		if ((size_t)(nl - line) > n && line[n] == ':' &&
		    strncasecmp(line, name, n) == 0) {
			for (v = line + n + 1; v < nl && is_wsp(*v); v++)
				;
			*vlen = (size_t)(nl - v);
			while (*vlen > 0 && is_wsp(v[*vlen - 1]))
				(*vlen)--;
			return v;
		}
		if (nl == end)
			break;
	}
	return NULL;
}

/* A chunked body, decoded in place; its length, or -1. */
static long
unchunk(char *b, size_t len)
{
	size_t	 in = 0, out = 0, size, digits;
	int	 c;

	for (;;) {
		/* the size in hex, read here: b has no NUL at its end */
		for (size = 0, digits = 0; in < len &&
		    isxdigit(c = (unsigned char)b[in]); in++, digits++) {
			if (size > STS_BODYMAX)
				return -1;
			size = size * 16 + (size_t)(isdigit(c) ? c - '0' :
			    tolower(c) - 'a' + 10);
		}
		if (digits == 0)
			return -1;
		/* chunk extensions, then CRLF */
		while (in < len && b[in] != '\r')
			in++;
		if (len - in < 2 || b[in + 1] != '\n' || size > STS_BODYMAX)
			return -1;
		in += 2;
		if (size == 0)
			return (long)out;	/* trailers are not read */
		if (len - in < size + 2 || b[in + size] != '\r' ||
		    b[in + size + 1] != '\n' || out + size > STS_BODYMAX)
			return -1;
		memmove(b + out, b + in, size);
		out += size;
		in += size + 2;
	}
}

/*
 * The body of a whole HTTP/1.x response (read until the server closed;
 * cut: without a TLS close_notify): status 200 (a redirect is not
 * followed, RFC 8461 3.3), Content-Type text/plain, and a body by
 * Content-Length, chunked, or up to the close, at most STS_BODYMAX
 * bytes.  A body up to the close counts only if the close was TLS's:
 * anyone on the path can end the TCP stream at a record boundary and
 * drop the policy's last lines.  0 with *body in resp, or -1 with why.
 */
int
sts_http_body(char *resp, size_t len, int cut, char **body, size_t *bodylen,
    char *why, size_t whylen)
{
	const char	*v, *sep;
	size_t		 vlen, headlen, i;
	long		 n;

	if (len < 12 || (memcmp(resp, "HTTP/1.1 ", 9) != 0 &&
	    memcmp(resp, "HTTP/1.0 ", 9) != 0)) {
		snprintf(why, whylen, "not an HTTP/1 response");
		return -1;
	}
	if (memcmp(resp + 9, "200", 3) != 0 || (len > 12 && resp[12] != ' ' &&
	    resp[12] != '\r')) {
		snprintf(why, whylen, "HTTP status %.3s%s", resp + 9,
		    resp[9] == '3' ? " (a redirect, not followed)" : "");
		return -1;
	}
	if ((sep = crlf(resp, len, 1)) == NULL) {
		snprintf(why, whylen, "an HTTP head without an end");
		return -1;
	}
	headlen = (size_t)(sep - resp) + 2;
	*body = (char *)sep + 4;
	*bodylen = len - headlen - 2;
	if ((v = header(resp, headlen, "Content-Type", &vlen)) == NULL ||
	    vlen < 10 || strncasecmp(v, "text/plain", 10) != 0 ||
	    (vlen > 10 && v[10] != ';' && !is_wsp(v[10]))) {
		snprintf(why, whylen, "not text/plain");
		return -1;
	}
	if ((v = header(resp, headlen, "Transfer-Encoding", &vlen)) != NULL) {
		if (vlen != 7 || strncasecmp(v, "chunked", 7) != 0 ||
		    (n = unchunk(*body, *bodylen)) < 0) {
			snprintf(why, whylen, "a bad chunked body");
			return -1;
		}
		*bodylen = (size_t)n;
	} else if ((v = header(resp, headlen, "Content-Length", &vlen)) !=
	    NULL) {
		for (n = 0, i = 0; i < vlen && i < 9 &&
		    isdigit((unsigned char)v[i]); i++)
			n = n * 10 + (v[i] - '0');
		if (vlen == 0 || i != vlen || (size_t)n > *bodylen) {
			snprintf(why, whylen, "a body shorter than its "
			    "Content-Length");
			return -1;
		}
		*bodylen = (size_t)n;
	} else if (cut) {
		snprintf(why, whylen, "a body up to a close that was not TLS's "
		    "(no close_notify): it may have been cut short");
		return -1;
	}
	if (*bodylen > STS_BODYMAX) {
		snprintf(why, whylen, "a policy larger than %d bytes",
		    STS_BODYMAX);
		return -1;
	}
	return 0;
}

/* The mx pattern after prev (NULL: the first), or NULL after the last. */
const char *
sts_mx_next(const struct sts_policy *p, const char *prev)
{
	size_t	 off = prev == NULL ? 0 : (size_t)(prev - p->mx) +
		    strlen(prev) + 1;

	return off < p->mxlen ? p->mx + off : NULL;
}

/*
 * Does MX host name host match a pattern of the policy (mxname.c)?  An
 * address, or anything else that is no name, matches none.
 */
int
sts_mx_match(const struct sts_policy *p, const char *host)
{
	char		 name[MXNAME_MAX];
	const char	*m;

	if (!mxname_normal(host, name, sizeof(name)))
		return 0;
	for (m = sts_mx_next(p, NULL); m != NULL; m = sts_mx_next(p, m))
		if (mxname_match(m, name))
			return 1;
	return 0;
}

const char *
sts_mode_name(enum sts_mode m)
{
	return m == STS_MODE_ENFORCE ? "enforce" : m == STS_MODE_TESTING ?
	    "testing" : "none";
}
