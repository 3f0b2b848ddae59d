/*
 * DNS for starttls-remote, with qmail-remote's rules: MX records sorted by
 * preference, equal preferences in random order, the addresses of each MX
 * host in turn; no MX at all means the domain's own addresses (RFC 5321
 * 5.1).  Answers are parsed here with dn_expand(3), which every resolver
 * library has.
 *
 * $DNSCACHEIP (djbdns's name for it) picks the resolver: "1.2.3.4", or
 * "127.0.0.1#5353" with a port, as dnsmasq writes it.
 *
 * For DANE, every address remembers whether DNSSEC validated the way to
 * it (the MX RRset and its own A or AAAA RRset), and dns_tlsa() reads a
 * server's TLSA records.  Validation is the resolver's work; here only
 * its AD bit is read, and only from a resolver that can be trusted.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dane.h"
#include "dns.h"
#include "io.h"
#include "sts.h"

#ifndef T_AAAA
#define T_AAAA	28
#endif

/* Do the AD bits of answers count (see dns_init)? */
static int	 dns_validated;

/*
 * Are all the resolvers on this host?  Only then can nobody on the path
 * forge the AD bit of an answer.  glibc keeps IPv6 servers elsewhere and
 * leaves their IPv4 slot empty: those do not count as local.
 */
static int
resolvers_local(void)
{
	int	 i;

	for (i = 0; i < _res.nscount; i++)
		if (_res.nsaddr_list[i].sin_family != AF_INET ||
		    (ntohl(_res.nsaddr_list[i].sin_addr.s_addr) >> 24) != 127)
			return 0;
	return _res.nscount > 0;
}

/*
 * The resolver, from /etc/resolv.conf or $DNSCACHEIP.  With dnssec, every
 * query asks for DNSSEC (EDNS0 with the DO bit), and an answer is taken
 * as validated when its AD bit is set and the resolver can be trusted to
 * set it: one on this host, or any that resolv.conf trusts with "options
 * trust-ad".  glibc 2.31 and later clear the AD bit of every answer
 * unless RES_TRUSTAD is set, so it is set here for a local resolver.
 */
int
dns_init(int dnssec)
{
	const char		*env;
	char			 ip[64], *hash;
	struct in_addr		 a;
	unsigned long		 port = 53;

	if (res_init() != 0)
		return -1;
	if ((env = getenv("DNSCACHEIP")) != NULL && *env != '\0') {
		if (strlen(env) >= sizeof(ip))
			return -1;
		strcpy(ip, env);
		if ((hash = strchr(ip, '#')) != NULL) {
			*hash++ = '\0';
			port = strtoul(hash, NULL, 10);
		}
		if (inet_pton(AF_INET, ip, &a) != 1 || port == 0 ||
		    port > 65535)
			return -1;
		_res.nscount = 1;
		_res.nsaddr_list[0].sin_family = AF_INET;
		_res.nsaddr_list[0].sin_addr = a;
		_res.nsaddr_list[0].sin_port = htons((unsigned short)port);
	}
	if (!dnssec)
		return 0;
	_res.options |= RES_USE_EDNS0 | RES_USE_DNSSEC;
#ifdef RES_TRUSTAD
	if (resolvers_local())
		_res.options |= RES_TRUSTAD;
	dns_validated = (_res.options & RES_TRUSTAD) != 0;
#else
	dns_validated = resolvers_local();
#endif
	return 0;
}

static int
add(struct dns_list *l, int af, const void *addr, unsigned int pref,
    const char *host, int secure)
{
	struct dns_addr		*d;
	struct sockaddr_in	*s4;
	struct sockaddr_in6	*s6;

	if (l->n == DNS_MAXADDR)
		return 0;
	d = &l->a[l->n++];
	memset(d, 0, sizeof(*d));
	d->pref = pref;
	d->secure = secure;
	strncpy(d->host, host, sizeof(d->host) - 1);
	if (af == AF_INET) {
		s4 = (struct sockaddr_in *)&d->sa;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr, 4);
		d->salen = sizeof(*s4);
	} else {
		s6 = (struct sockaddr_in6 *)&d->sa;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr, 16);
		d->salen = sizeof(*s6);
	}
	return 0;
}

/*
 * After dns_init(1): are validated answers trusted?  resolver gets the
 * first resolver's address (and port, unless 53) and where it came from,
 * for starttls-remote -C to name.
 */
int
dns_trusted(char *resolver, size_t len)
{
	const struct sockaddr_in	*ns = &_res.nsaddr_list[0];
	const char			*env = getenv("DNSCACHEIP");
	char				 ip[INET_ADDRSTRLEN], port[8] = "";

	if (_res.nscount == 0 || ns->sin_family != AF_INET ||
	    inet_ntop(AF_INET, &ns->sin_addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "%s", "(IPv6)");
	else if (ntohs(ns->sin_port) != 53)
		snprintf(port, sizeof(port), "#%u", ntohs(ns->sin_port));
	snprintf(resolver, len, "%s%s (from %s)", ip, port, env != NULL &&
	    *env != '\0' ? "$DNSCACHEIP" : "/etc/resolv.conf");
	return dns_validated;
}

/* "[1.2.3.4]" or "[IPv6:::1]": 1 and the address, 0 if not a literal. */
int
dns_literal(const char *host, struct dns_list *l)
{
	char		 buf[80];
	size_t		 len = strlen(host);
	unsigned char	 addr[16];

	if (len < 3 || host[0] != '[' || host[len - 1] != ']' ||
	    len - 2 >= sizeof(buf))
		return 0;
	memcpy(buf, host + 1, len - 2);
	buf[len - 2] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		add(l, AF_INET, addr, 0, host, 0);
	else if (strncasecmp(buf, "IPv6:", 5) == 0 &&
	    inet_pton(AF_INET6, buf + 5, addr) == 1)
		add(l, AF_INET6, addr, 0, host, 0);
	else
		return 0;
	return 1;
}

/*
 * Query name for type; returns the answer length, 0 for "no such
 * records", DNS_HARD for NXDOMAIN, DNS_SOFT otherwise.  *secure: the
 * answer, records or their absence, was validated by DNSSEC.  res_query()
 * leaves the answer in ans when it fails for NXDOMAIN or no records.
 */
static int
query(const char *name, int type, unsigned char *ans, int anslen,
    int *secure)
{
	HEADER	*h = (HEADER *)ans;
	int	 n;

	memset(h, 0, sizeof(*h));
	n = res_query(name, C_IN, type, ans, anslen);
	*secure = dns_validated && h->qr && h->ad && (n >= 0 ||
	    h_errno == HOST_NOT_FOUND || h_errno == NO_DATA);
	if (n < 0) {
		switch (h_errno) {
		case HOST_NOT_FOUND:
			return DNS_HARD;
		case NO_DATA:
			return 0;
		default:
			return DNS_SOFT;
		}
	}
	if (n < (int)sizeof(HEADER) || n > anslen)
		return DNS_SOFT;
	if (h->rcode == NXDOMAIN)
		return DNS_HARD;
	if (h->rcode != NOERROR || h->tc)
		return DNS_SOFT;
	return n;
}

/*
 * After dns_init(1), for starttls-remote -C: does the resolver validate?
 * Every validating resolver holds the root zone's key, so its answer for
 * the root's SOA has the AD bit set.  1 if so, 0 if an answer came
 * without it, -1 if none came (within a few seconds).
 */
int
dns_validates(void)
{
	unsigned char	 ans[4096];
	int		 secure;

	_res.retrans = 3;
	_res.retry = 1;
	if (query(".", T_SOA, ans, sizeof(ans), &secure) == DNS_SOFT)
		return -1;
	return secure;
}

/*
 * Walk the answer section; for each record of type calls back with its
 * data.  Returns 0, or DNS_SOFT for a malformed answer.
 */
typedef int (*rr_fn)(const unsigned char *, const unsigned char *,
    const unsigned char *, int, void *);

static int
walk(const unsigned char *ans, int len, int type, rr_fn fn, void *arg)
{
	const HEADER		*h = (const HEADER *)ans;
	const unsigned char	*p = ans + sizeof(HEADER), *end = ans + len;
	char			 name[NS_MAXDNAME];
	int			 qd, an, n, t, rdlen;

	qd = ntohs(h->qdcount);
	an = ntohs(h->ancount);
	while (qd-- > 0) {
		if ((n = dn_expand(ans, end, p, name, sizeof(name))) < 0 ||
		    end - (p + n) < 4)
			return DNS_SOFT;
		p += n + 4;
	}
	while (an-- > 0) {
		if ((n = dn_expand(ans, end, p, name, sizeof(name))) < 0 ||
		    end - (p + n) < 10)
			return DNS_SOFT;
		p += n;
		t = (p[0] << 8) | p[1];
		rdlen = (p[8] << 8) | p[9];
		p += 10;
		if (end - p < rdlen)
			return DNS_SOFT;
		if (t == type && fn(ans, end, p, rdlen, arg) == -1)
			return DNS_SOFT;
		p += rdlen;
	}
	return 0;
}

struct ipwalk {
	struct dns_list	*l;
	unsigned int	 pref;
	const char	*host;
	int		 af;
	int		 secure;	/* the way here and this answer */
};

static int
ip_rr(const unsigned char *ans, const unsigned char *end,
    const unsigned char *rd, int rdlen, void *arg)
{
	struct ipwalk	*w = arg;

	(void)ans;
	(void)end;
	if ((w->af == AF_INET && rdlen != 4) ||
	    (w->af == AF_INET6 && rdlen != 16))
		return -1;
	return add(w->l, w->af, rd, w->pref, w->host, w->secure);
}

/*
 * The addresses of a host name (A, then AAAA), appended with preference
 * pref.  Returns 0 when some were found, DNS_HARD when the name does not
 * exist or has none, DNS_SOFT when a lookup failed for now.  secure: the
 * way to this name (its MX record) was validated; an address is secure
 * when that and its own answer were.
 */
int
dns_ip(const char *host, struct dns_list *l, unsigned int pref, int secure)
{
	unsigned char	 ans[4096], addr[16];
	struct ipwalk	 w;
	size_t		 before = l->n;
	int		 n, soft = 0, ad;

	if (dns_literal(host, l))
		return 0;
	/* smtproutes may name a relay by its bare address */
	if (inet_pton(AF_INET, host, addr) == 1)
		return add(l, AF_INET, addr, pref, host, 0);
	if (inet_pton(AF_INET6, host, addr) == 1)
		return add(l, AF_INET6, addr, pref, host, 0);
	w.l = l;
	w.pref = pref;
	w.host = host;
	w.af = AF_INET;
	if ((n = query(host, T_A, ans, sizeof(ans), &ad)) > 0) {
		w.secure = secure && ad;
		n = walk(ans, n, T_A, ip_rr, &w);
	}
	if (n == DNS_SOFT)
		soft = 1;
	w.af = AF_INET6;
	if ((n = query(host, T_AAAA, ans, sizeof(ans), &ad)) > 0) {
		w.secure = secure && ad;
		n = walk(ans, n, T_AAAA, ip_rr, &w);
	}
	if (n == DNS_SOFT)
		soft = 1;
	/* an address of either kind will do; qmail never even asks for AAAA */
	if (l->n > before)
		return 0;
	/* no address at all counts as no such host, as in notqmail */
	return soft ? DNS_SOFT : DNS_HARD;
}

struct mx {
	unsigned int	 pref;
	unsigned long long key;
	char		 host[DNS_MAXHOST];
};

struct mxwalk {
	struct mx	 mx[DNS_MAXADDR];
	int		 n;
	int		 nullmx;
};

static int
mx_rr(const unsigned char *ans, const unsigned char *end,
    const unsigned char *rd, int rdlen, void *arg)
{
	struct mxwalk	*w = arg;
	char		 name[NS_MAXDNAME];

	if (rdlen < 3 || dn_expand(ans, end, rd + 2, name, sizeof(name)) < 0)
		return -1;
	if (name[0] == '\0') {
		w->nullmx = 1;		/* "MX 0 ." */
		return 0;
	}
	if (w->n == DNS_MAXADDR || strlen(name) >= DNS_MAXHOST)
		return 0;
	w->mx[w->n].pref = (rd[0] << 8) | rd[1];
	strcpy(w->mx[w->n].host, name);
	w->n++;
	return 0;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct mx	*x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

/*
 * The sort key of the i-th MX host for seed random (qmail-remote's: the
 * time plus the pid shifted left 16), where preferences are equal.  A
 * hash of both (splitmix64), so that every seed orders them anew: one
 * step of a linear congruential generator from such a seed put the
 * first MX first four times in five.
 */
unsigned long long
dns_shuffle_key(unsigned long random, unsigned int i)
{
	unsigned long long	 x = (unsigned long long)random +
				    0x9e3779b97f4a7c15ULL * (i + 1ULL);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * The addresses to try for a mail domain, best first.  random shuffles
 * MX hosts of equal preference.  A host whose addresses cannot be found
 * is skipped; if none is found and one of them failed temporarily, the
 * whole lookup is DNS_SOFT.
 */
int
dns_mx(const char *domain, struct dns_list *l, unsigned long random)
{
	unsigned char	 ans[8192];
	struct mxwalk	*w;
	int		 i, n, soft = 0, secure;

	l->n = 0;
	if (dns_literal(domain, l))
		return 0;
	n = query(domain, T_MX, ans, sizeof(ans), &secure);
	if (n == DNS_SOFT)
		return DNS_SOFT;
	if (n == DNS_HARD || n == 0)
		return dns_ip(domain, l, 0, secure);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return DNS_SOFT;
	if (walk(ans, n, T_MX, mx_rr, w) == DNS_SOFT) {
		free(w);
		return DNS_SOFT;
	}
	if (w->n == 0) {
		n = w->nullmx ? DNS_NULLMX : dns_ip(domain, l, 0, secure);
		free(w);
		return n;
	}
	for (i = 0; i < w->n; i++) {
		w->mx[i].key = dns_shuffle_key(random, (unsigned int)i);
	}
	qsort(w->mx, w->n, sizeof(w->mx[0]), mx_cmp);
	for (i = 0; i < w->n; i++)
		if (dns_ip(w->mx[i].host, l, w->mx[i].pref, secure) ==
		    DNS_SOFT)
			soft = 1;
	free(w);
	if (l->n == 0 && soft)
		return DNS_SOFT;
	return 0;
}

/*
 * A TCP connection to d on port, made by deadline: the descriptor (close
 * on exec, non-blocking), or DNS_NOCONNECT (*timedout set if the deadline
 * passed), or DNS_NOSOCKET when no socket could be made (errno says why;
 * EAFNOSUPPORT for IPv6 on a host without it).
 */
int
dns_connect(const struct dns_addr *d, int port, long deadline,
    int *timedout)
{
	struct sockaddr_storage	 sa = d->sa;
	socklen_t		 len = sizeof(int);
	int			 fd, err = 0;

	*timedout = 0;
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
	if ((fd = socket(sa.ss_family, SOCK_STREAM, 0)) == -1)
		return DNS_NOSOCKET;
	io_cloexec(fd);
	io_nonblock(fd);
	if (connect(fd, (struct sockaddr *)&sa, d->salen) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		switch (io_wait(fd, POLLOUT, deadline)) {
		case 1:
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &len) == 0 && err == 0)
				return fd;
			break;
		case 0:
			*timedout = 1;
			break;
		}
	}
	close(fd);
	return DNS_NOCONNECT;
}

void
dns_fmt(const struct dns_addr *d, char *out, size_t outlen)
{
	const struct sockaddr_in	*s4 = (const void *)&d->sa;
	const struct sockaddr_in6	*s6 = (const void *)&d->sa;

	if (d->sa.ss_family == AF_INET)
		inet_ntop(AF_INET, &s4->sin_addr, out, outlen);
	else
		inet_ntop(AF_INET6, &s6->sin6_addr, out, outlen);
}

static int
tlsa_rr(const unsigned char *ans, const unsigned char *end,
    const unsigned char *rd, int rdlen, void *arg)
{
	(void)ans;
	(void)end;
	dane_tlsa_add(arg, rd, (size_t)rdlen);
	return 0;
}

/*
 * The TLSA records of a mail server, at _port._tcp.host (RFC 7672 2.2),
 * into set.  DNS_TLSA_FOUND when the answer is validated and has records
 * (usable or not: see set), DNS_TLSA_INSECURE when it has records but is
 * not validated (set is left empty: nothing vouches for them),
 * DNS_TLSA_NONE when there are none, DNS_TLSA_FAILED when the lookup
 * failed: a SERVFAIL, which a validating resolver also gives for forged
 * answers.
 */
enum dns_tlsa
dns_tlsa(const char *host, int port, struct tlsa_set *set)
{
	unsigned char	 ans[16384];
	char		 name[DNS_MAXHOST + 16];
	int		 n, secure;

	memset(set, 0, sizeof(*set));
	if (snprintf(name, sizeof(name), "_%d._tcp.%s", port, host) >=
	    (int)sizeof(name))
		return DNS_TLSA_NONE;
	n = query(name, DNS_T_TLSA, ans, sizeof(ans), &secure);
	if (n == DNS_SOFT)
		return DNS_TLSA_FAILED;
	if (n <= 0)
		return DNS_TLSA_NONE;
	if (walk(ans, n, DNS_T_TLSA, tlsa_rr, set) == DNS_SOFT)
		return DNS_TLSA_FAILED;
	if (set->n + set->unusable == 0)
		return DNS_TLSA_NONE;
	if (!secure) {
		/* records nobody vouches for: DANE does not apply */
		memset(set, 0, sizeof(*set));
		return DNS_TLSA_INSECURE;
	}
	return DNS_TLSA_FOUND;
}

struct txtwalk {
	char	 id[STS_IDMAX + 1];
	int	 records;		/* STSv1 records seen */
	int	 bad;			/* one of them did not parse */
};

/* A TXT record: its character-strings joined, then read as MTA-STS's. */
static int
sts_rr(const unsigned char *ans, const unsigned char *end,
    const unsigned char *rd, int rdlen, void *arg)
{
	struct txtwalk	*w = arg;
	char		 txt[4096];
	size_t		 len = 0;
	int		 i = 0, n;

	(void)ans;
	(void)end;
	while (i < rdlen) {
		n = rd[i++];
		if (n > rdlen - i || len + (size_t)n >= sizeof(txt))
			return -1;
		memcpy(txt + len, rd + i, (size_t)n);
		len += (size_t)n;
		i += n;
	}
	switch (sts_txt(txt, len, w->id, sizeof(w->id))) {
	case 0:
		w->records++;
		break;
	case -1:
		w->records++;
		w->bad = 1;
		break;
	}
	return 0;
}

/*
 * The MTA-STS record of a mail domain, TXT at _mta-sts.<domain> (RFC 8461
 * 3.1): DNS_STS_FOUND and its id, DNS_STS_NONE when there is none, or not
 * exactly one STSv1 record that parses, DNS_STS_FAILED when the lookup
 * failed for now.
 */
enum dns_sts
dns_sts(const char *domain, char *id, size_t idlen)
{
	unsigned char	 ans[8192];
	char		 name[DNS_MAXHOST + 16];
	struct txtwalk	 w;
	int		 n, secure;

	memset(&w, 0, sizeof(w));
	if (snprintf(name, sizeof(name), "_mta-sts.%s", domain) >=
	    (int)sizeof(name))
		return DNS_STS_NONE;
	n = query(name, T_TXT, ans, sizeof(ans), &secure);
	if (n == DNS_SOFT)
		return DNS_STS_FAILED;
	if (n <= 0)
		return DNS_STS_NONE;
	if (walk(ans, n, T_TXT, sts_rr, &w) == DNS_SOFT)
		return DNS_STS_FAILED;
	if (w.records != 1 || w.bad)
		return DNS_STS_NONE;
	snprintf(id, idlen, "%s", w.id);
	return DNS_STS_FOUND;
}
