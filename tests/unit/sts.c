/*
 * Unit tests: MTA-STS parsing in lib/remote/sts.c: the TXT record, the
 * HTTP response, the policy, and the MX patterns.
 */
#include "unit.h"

#include "sts.h"

static int
txt(const char *s, char *id)
{
	return sts_txt(s, strlen(s), id, STS_IDMAX + 1);
}

static void
t_sts_txt(void)
{
	char	 id[STS_IDMAX + 1];

	CHECK_INT(txt("v=STSv1; id=20160831085700Z;", id), 0);
	CHECK_STR(id, "20160831085700Z");
	CHECK_INT(txt("v=STSv1;id=abc", id), 0);
	CHECK_STR(id, "abc");
	CHECK_INT(txt("v=STSv1 ; id=x1 ; ext_1=some-value;", id), 0);
	CHECK_STR(id, "x1");
	CHECK_INT(txt("v=spf1 -all", id), 1);		/* not ours */
	CHECK_INT(txt("v=STSv1", id), -1);		/* no id */
	CHECK_INT(txt("v=STSv1; id=", id), -1);
	CHECK_INT(txt("v=STSv1; id=a-b", id), -1);	/* only ALPHA / DIGIT */
	CHECK_INT(txt("v=STSv1; id=123456789012345678901234567890123",
	    id), -1);					/* 33 characters */
	CHECK_INT(txt("v=STSv1; id=1; id=2", id), -1);
	CHECK_INT(txt("v=STSv1 id=1", id), -1);		/* no separator */
	CHECK_INT(txt("v=STSv1; =x; id=1", id), -1);
}
UNIT(t_sts_txt, "sts: the TXT record, strictly");

static int
parse(const char *s, struct sts_policy *p, char *reason)
{
	return sts_policy_parse(s, strlen(s), p, reason, 128);
}

static void
t_sts_policy(void)
{
	struct sts_policy	 p;
	char			 reason[128];

	CHECK_INT(parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example."
	    "com\r\nmx: *.Example.net\r\nmax_age: 604800\r\n", &p, reason), 0);
	CHECK_INT(p.mode, STS_MODE_ENFORCE);
	CHECK_INT(p.max_age, 604800);
	CHECK_INT(p.nmx, 2);
	CHECK_STR(sts_mx_next(&p, sts_mx_next(&p, NULL)), "*.example.net");
	/* unknown fields ignored, repeated ones: the first counts */
	CHECK_INT(parse("version: STSv1\nmode: testing\nmode: enforce\n"
	    "foo: bar\nmx: a.example\nmax_age:31557600", &p, reason), 0);
	CHECK_INT(p.mode, STS_MODE_TESTING);
	CHECK_INT(parse("version: STSv1\nmode: none\nmax_age: 1\n", &p, reason),
	    0);
	CHECK_INT(parse("version: STSv1\nmode: enforce\nmax_age: 1\n", &p,
	    reason), -1);
	CHECK_STR(reason, "no mx");
	CHECK_INT(parse("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n",
	    &p, reason), -1);
	CHECK_INT(parse("mode: enforce\nmx: a\nmax_age: 1\n", &p, reason), -1);
	CHECK_STR(reason, "no version");
	CHECK_INT(parse("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n",
	    &p, reason), -1);
	CHECK_INT(parse("version: STSv1\nmode: enforce\nmx: a\n"
	    "max_age: 31557601\n", &p, reason), -1);
	CHECK_INT(parse("version: STSv1\nmode: enforce\nmx: a\n"
	    "max_age: -1\n", &p, reason), -1);
	CHECK_INT(parse("version: STSv1\nmode: enforce\nmx: a.*.b\n"
	    "max_age: 1\n", &p, reason), -1);
	CHECK_INT(parse("version: STSv1\nmode enforce\n", &p, reason), -1);
}
UNIT(t_sts_policy, "sts: the policy, fields and limits");

/* The body of resp, which ended with a TLS close_notify unless cut. */
static int
body_of(const char *resp, int cut, char *out, char *reason)
{
	char	 buf[1024], *b;
	size_t	 n;

	snprintf(buf, sizeof(buf), "%s", resp);
	if (sts_http_body(buf, strlen(buf), cut, &b, &n, reason, 128) == -1)
		return -1;
	memcpy(out, b, n);
	out[n] = '\0';
	return 0;
}

/* The body of a response that ended with TLS's close_notify. */
static int
body(const char *resp, char *out, char *reason)
{
	return body_of(resp, 0, out, reason);
}

static void
t_sts_http(void)
{
	char	 out[1024], reason[128];

	CHECK_INT(body("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 5\r\n\r\nhello, and more", out, reason), 0);
	CHECK_STR(out, "hello");
	CHECK_INT(body("HTTP/1.0 200 OK\r\ncontent-type: TEXT/PLAIN; "
	    "charset=utf-8\r\n\r\nuntil the close", out, reason), 0);
	CHECK_STR(out, "until the close");
	CHECK_INT(body("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n"
	    "0\r\n\r\n", out, reason), 0);
	CHECK_STR(out, "abcde");
	CHECK_INT(body("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n9\r\nabc\r\n0\r\n\r\n", out,
	    reason), -1);
	CHECK_INT(body("HTTP/1.1 301 Moved\r\nLocation: x\r\n\r\n", out, reason),
	    -1);
	CHECK_STR(reason, "HTTP status 301 (a redirect, not followed)");
	CHECK_INT(body("HTTP/1.1 200 OK\r\nContent-Type: text/plainx\r\n\r\n"
	    "x", out, reason), -1);
	CHECK_STR(reason, "not text/plain");
	CHECK_INT(body("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 50\r\n\r\nshort", out, reason), -1);
	CHECK_INT(body("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: x5\r\n\r\nshort", out, reason), -1);
	CHECK_INT(body("HTTP/1.1 2000 OK\r\n\r\n", out, reason), -1);
	CHECK_INT(body("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
	    out, reason), -1);		/* no end of the head */
	CHECK_INT(body("SSH-2.0-OpenSSH\r\n\r\n", out, reason), -1);
}
UNIT(t_sts_http, "sts: the HTTP response: status, type, lengths, chunks");

static void
t_sts_http_cut(void)
{
	char	 out[1024], reason[128];

	/* up to the close: only a close TLS vouches for */
	CHECK_INT(body_of("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
	    "\r\nversion: STSv1\nmode: enforce\nmx: a.example\n", 1, out,
	    reason), -1);
	CHECK_STR(reason, "a body up to a close that was not TLS's (no "
	    "close_notify): it may have been cut short");
	/* by length or in chunks it is whole, whatever the close */
	CHECK_INT(body_of("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 2\r\n\r\nab", 1, out, reason), 0);
	CHECK_STR(out, "ab");
	CHECK_INT(body_of("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", 1,
	    out, reason), 0);
	CHECK_STR(out, "a");
}
UNIT(t_sts_http_cut, "sts: a body up to the close needs TLS's close_notify");

static void
t_sts_many_mx(void)
{
	static struct sts_policy	 p;
	static char			 text[STS_BODYMAX];
	char				 reason[128], name[64];
	size_t				 len;
	int				 i;

	len = (size_t)snprintf(text, sizeof(text), "version: STSv1\n"
	    "mode: enforce\nmax_age: 86400\n");
	for (i = 1; i <= 2000; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "mx: mx%d.example.com\n", i);
	CHECK_INT(parse(text, &p, reason), 0);
	CHECK_INT(p.nmx, 2000);
	for (i = 1; i <= 2000; i += 333) {
		snprintf(name, sizeof(name), "MX%d.example.com.", i);
		CHECK_INT(sts_mx_match(&p, name), 1);
	}
	CHECK_INT(sts_mx_match(&p, "mx2000.example.com"), 1);
	CHECK_INT(sts_mx_match(&p, "mx2001.example.com"), 0);
}
UNIT(t_sts_many_mx, "sts: 2000 mx lines, all kept, the last one matches");

static void
t_sts_mx(void)
{
	struct sts_policy	 p;
	char			 reason[128];

	CHECK_INT(parse("version: STSv1\nmode: enforce\nmx: mail.example.com"
	    "\nmx: *.example.net\nmax_age: 1\n", &p, reason), 0);
	CHECK_INT(sts_mx_match(&p, "mail.example.com"), 1);
	CHECK_INT(sts_mx_match(&p, "MAIL.example.com."), 1);
	CHECK_INT(sts_mx_match(&p, "mail.example.com.evil"), 0);
	CHECK_INT(sts_mx_match(&p, "xmail.example.com"), 0);
	CHECK_INT(sts_mx_match(&p, "mx1.example.net"), 1);
	CHECK_INT(sts_mx_match(&p, "MX1.Example.NET"), 1);
	CHECK_INT(sts_mx_match(&p, "example.net"), 0);	/* one label, not 0 */
	CHECK_INT(sts_mx_match(&p, "a.b.example.net"), 0);	/* nor 2 */
	CHECK_INT(sts_mx_match(&p, ".example.net"), 0);
	CHECK_INT(sts_mx_match(&p, "mx1.example.net.org"), 0);
}
UNIT(t_sts_mx, "sts: MX patterns, *. for one label only");
