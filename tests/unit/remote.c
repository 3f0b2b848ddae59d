/*
 * Unit tests: starttls-remote's smtproutes, message and address rules
 * (lib/remote/).
 */
#include "unit.h"

static const char routes[] =
    "example.org:relay.example:2525\n"
    ".sub.example:[192.0.2.9]:26\r\n"
    "mx.example:\n"
    "spaces.example:spaced.example  \n"
    "noname.example::2526\n"
    "long.example:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    ":default.example\n";

static void
t_route(void)
{
	char	 relay[32];
	int	 port;

#define ROUTE(host) route_find(routes, sizeof(routes) - 1, (host), relay, \
	    sizeof(relay), &port)
	port = 25;
	CHECK_INT(ROUTE("example.org"), 1);
	CHECK_STR(relay, "relay.example");
	CHECK_INT(port, 2525);
	port = 25;
	CHECK_INT(ROUTE("EXAMPLE.ORG"), 1);	/* case does not matter */
	port = 25;
	CHECK_INT(ROUTE("a.b.sub.example"), 1);	/* a suffix, a literal */
	CHECK_STR(relay, "[192.0.2.9]");
	CHECK_INT(port, 26);
	CHECK_INT(ROUTE("sub.example"), 1);	/* ".sub" is not "sub" */
	CHECK_STR(relay, "default.example");
	port = 25;
	CHECK_INT(ROUTE("spaces.example"), 1);
	CHECK_STR(relay, "spaced.example");
	CHECK_INT(port, 25);
	CHECK_INT(ROUTE("mx.example"), 0);	/* "domain:" means MX */
	port = 25;
	CHECK_INT(ROUTE("noname.example"), 1);	/* as qmail-remote: "" */
	CHECK_STR(relay, "");
	CHECK_INT(port, 2526);
	CHECK_INT(ROUTE("long.example"), 0);	/* too long: not used */
	CHECK_INT(ROUTE("other.example"), 1);	/* the default route */
	CHECK_STR(relay, "default.example");
	CHECK_INT(route_find("", 0, "example.org", relay, sizeof(relay),
	    &port), 0);
#undef ROUTE
}
UNIT(t_route, "smtproutes: exact, suffix, default, port, MX, too long");

/* ------------------------------------------------ remote: the message */

/* What blast_send() makes of in, and its result. */
static enum blast
blast_of(const char *in, size_t inlen, char *out, size_t outlen, size_t *n)
{
	struct smtpc	 s;
	int		 msg[2], sv[2];
	enum blast	 b;
	ssize_t		 r;

	if (pipe(msg) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return BLAST_READ_FAILED;
	(void)write(msg[1], in, inlen);
	close(msg[1]);
	smtpc_init(&s, sv[0], 5000);
	b = blast_send(msg[0], &s);
	close(msg[0]);
	close(sv[0]);
	*n = 0;
	while ((r = read(sv[1], out + *n, outlen - *n)) > 0)
		*n += (size_t)r;
	close(sv[1]);
	return b;
}

static void
t_blast(void)
{
	static const struct {
		const char	*in, *out;
		enum blast	 result;
	} cases[] = {
		{ "a\n.b\n", "a\r\n..b\r\n", BLAST_OK },
		{ "a\r\nb\r\n", "a\r\nb\r\n", BLAST_OK },
		{ "a\rb\n", "a\r\nb\r\n", BLAST_OK },
		{ "a\r.\n", "a\r\n..\r\n", BLAST_OK },	/* a '.' after a bare CR */
		{ ".\n..\n", "..\r\n...\r\n", BLAST_OK },
		{ "a\r", "a\r\n", BLAST_OK },
		{ "", "", BLAST_OK },
		{ "a\nno end", "a\r\nno end", BLAST_PARTIAL_LINE },
	};
	char	 out[256];
	size_t	 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(blast_of(cases[i].in, strlen(cases[i].in), out,
		    sizeof(out) - 1, &n), cases[i].result);
		out[n] = '\0';
		CHECK_STR(out, cases[i].out);
	}
}
UNIT(t_blast, "blast: CRLF, dot-stuffing, bare CR, partial last line");

/* ------------------------------------------------ remote: our addresses */

static void
t_ipme(void)
{
	struct sockaddr_in	 a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(ipme_is((struct sockaddr *)&a), 1);
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	CHECK_INT(ipme_is((struct sockaddr *)&a), 1);
	a.sin_addr.s_addr = htonl(0xc0000201);	/* 192.0.2.1, TEST-NET-1 */
	CHECK_INT(ipme_is((struct sockaddr *)&a), 0);
}
UNIT(t_ipme, "ipme: loopback and 0.0.0.0 are ours, TEST-NET is not");

/* ------------------------------------------- remote: equal preferences */

static void
t_dns_shuffle(void)
{
	unsigned long	 seed;
	int		 pid, first = 0, runs = 0;

	/* the seeds of deliveries a second apart, pids as they come */
	for (pid = 300; pid < 32768; pid += 97, runs++) {
		seed = 1765000000UL + (unsigned long)(pid / 97) +
		    ((unsigned long)pid << 16);
		if (dns_shuffle_key(seed, 0) < dns_shuffle_key(seed, 1))
			first++;
	}
	/* each order about half the time, over 335 deliveries */
	CHECK(first > runs * 4 / 10 && first < runs * 6 / 10);
}
UNIT(t_dns_shuffle, "dns: equal MX preferences in either order, evenly");
