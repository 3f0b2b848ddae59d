/*
 * MTA-STS, the network and the disk.  The policy is fetched with libtls
 * from https://mta-sts.<domain>/.well-known/mta-sts.txt, verified against
 * a CA bundle (control/mtastscafile, or the system's), and kept between
 * deliveries in a cache directory: one file per domain, written to a
 * temporary file and renamed into place, so that the many starttls-remote
 * processes of a busy queue read it without locks and never see half a
 * file.  A file that does not parse is no cache.
 *
 * The cache is trusted only as far as the directory and the file are
 * ours alone: whoever else can write there could plant "mode: none".
 * It also remembers a fetch that failed, so that a policy host that is
 * down, or stalls on purpose, costs one delivery every STS_RETRY_SECONDS
 * and not every delivery (RFC 8461 3.3).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "conn.h"
#include "dns.h"
#include "io.h"
#include "servercert.h"
#include "sts.h"
#include "stsfetch.h"
#include "tlsconf.h"

#define CACHE_MAX	(STS_BODYMAX + 256)
#define RESPONSE_MAX	(STS_BODYMAX + 16384)

/* The cache file name of domain: 0, or -1 if domain is no DNS name. */
static int
cache_name(char *name, size_t len, const char *domain)
{
	return tlsconf_servername(domain, name, len) ? 0 : -1;
}

/* Can only the user we run as change it? 1, or 0 with why. */
static int
ours_alone(const struct stat *st, const char *what, char *why, size_t whylen)
{
	if (st->st_uid != geteuid())
		snprintf(why, whylen, "%s is owned by uid %ld, not by this "
		    "user (uid %ld)", what, (long)st->st_uid, (long)geteuid());
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		snprintf(why, whylen, "%s can be written by others (mode "
		    "%04o)", what, (unsigned int)(st->st_mode & 07777));
	else
		return 1;
	return 0;
}

/*
 * The cache directory, opened, if it can be trusted: a directory owned
 * by the user we run as that nobody else can write.  The descriptor;
 * STS_CACHE_ABSENT when it cannot be opened (errno says why), or
 * STS_CACHE_UNTRUSTED with why.
 */
int
sts_cache_open(const char *dir, char *why, size_t whylen)
{
	struct stat	 st;
	int		 fd, e;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		e = errno;
		snprintf(why, whylen, "%s: %s", dir, strerror(e));
		errno = e;
		return STS_CACHE_ABSENT;
	}
	if (fstat(fd, &st) == -1 || !ours_alone(&st, dir, why, whylen)) {
		close(fd);
		return STS_CACHE_UNTRUSTED;
	}
	return fd;
}

/*
 * The lines before the policy: "failed <time> <id>" (the last fetch
 * that failed), then, if a policy follows, "expires <time>" and
 * "id <id>".  Returns where the policy starts.
 */
static char *
cache_head(char *s, struct sts_cached *c, long long *expires, char *id)
{
	char		*nl;
	long long	 t;

	while ((nl = strchr(s, '\n')) != NULL) {
		if (sscanf(s, "failed %lld %32[A-Za-z0-9]\n", &t,
		    c->failed_id) == 2)
			c->failed = (time_t)t;
		else if (sscanf(s, "expires %lld\n", expires) != 1 &&
		    sscanf(s, "id %32[A-Za-z0-9]\n", id) != 1)
			break;
		s = nl + 1;
	}
	return s;
}

/*
 * The cache record of domain in the directory dirfd: its policy, expired
 * or not (c->have_policy), and its last failed fetch (c->failed).  0, or
 * -1 when there is none that can be used (why says so if the file is
 * not ours alone).
 */
int
sts_cache_read(int dirfd, const char *domain, struct sts_cached *c,
    char *why, size_t whylen)
{
	struct stat	 st;
	char		 name[256], reason[128], id[STS_IDMAX + 1] = "", *buf, *s;
	long long	 expires = -1;
	ssize_t		 n;
	int		 fd, rv = -1;

	memset(c, 0, sizeof(*c));
	why[0] = '\0';
	if (cache_name(name, sizeof(name), domain) == -1 ||
	    (fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    !ours_alone(&st, name, why, whylen) ||
	    (buf = malloc(CACHE_MAX + 1)) == NULL) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, CACHE_MAX + 1);
	close(fd);
	if (n > 0 && n <= CACHE_MAX && memchr(buf, '\0', (size_t)n) == NULL) {
		buf[n] = '\0';
		s = cache_head(buf, c, &expires, id);
		if (expires >= 0 && id[0] != '\0' && sts_policy_parse(s,
		    strlen(s), &c->policy, reason, sizeof(reason)) == 0) {
			c->have_policy = 1;
			c->policy.expires = (time_t)expires;
			memcpy(c->policy.id, id, sizeof(id));
			rv = 0;
		} else if (expires < 0 && id[0] == '\0' && *s == '\0' &&
		    c->failed != 0)
			rv = 0;
	}
	if (rv == -1)
		memset(c, 0, sizeof(*c));
	free(buf);
	return rv;
}

/*
 * Keep c as domain's record: a temporary file in dirfd, renamed over the
 * old one.  Concurrent writers each rename a whole file; the last wins.
 * 0, or -1 (the cache is a saving, never a reason to defer).
 */
int
sts_cache_write(int dirfd, const char *domain, const struct sts_cached *c)
{
	const struct sts_policy	*p = &c->policy;
	const char		*m;
	char			 name[256], tmp[64];
	FILE			*f;
	int			 fd, bad;

	if (cache_name(name, sizeof(name), domain) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), ".tmp.%ld", (long)getpid());
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (c->failed != 0)
		fprintf(f, "failed %lld %s\n", (long long)c->failed,
		    c->failed_id);
	if (c->have_policy) {
		fprintf(f, "expires %lld\nid %s\nversion: STSv1\nmode: %s\n"
		    "max_age: %ld\n", (long long)p->expires, p->id,
		    sts_mode_name(p->mode), p->max_age);
		for (m = sts_mx_next(p, NULL); m != NULL; m = sts_mx_next(p, m))
			fprintf(f, "mx: %s\n", m);
	}
	bad = fflush(f) != 0 || fsync(fd) != 0;
	if (fclose(f) != 0 || bad || renameat(dirfd, tmp, dirfd, name) == -1) {
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

/* A TCP connection to one of the addresses of name, port 443. */
static int
https_connect(const char *name, long deadline)
{
	static struct dns_list	 list;
	size_t			 i;
	int			 fd, timedout;

	list.n = 0;
	if (dns_ip(name, &list, 0, 0) != 0)
		return -1;
	for (i = 0; i < list.n; i++)
		if ((fd = dns_connect(&list.a[i], 443, deadline,
		    &timedout)) >= 0)
			return fd;
	return -1;
}

/* The whole response to GET, up to RESPONSE_MAX bytes; its length or -1. */
static long
https_get(struct conn *c, const char *host, char *resp, long deadline,
    char *why, size_t whylen)
{
	char	 req[512];
	size_t	 len = 0;
	ssize_t	 n;
	int	 reqlen;

	reqlen = snprintf(req, sizeof(req), "GET /.well-known/mta-sts.txt "
	    "HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: "
	    "starttls-remote\r\n\r\n", host);
	if (conn_writeall(c, req, (size_t)reqlen, deadline) != 0) {
		snprintf(why, whylen, "unable to send the request: %s",
		    conn_error(c));
		return -1;
	}
	while (len < RESPONSE_MAX) {
		n = conn_read(c, resp + len, RESPONSE_MAX - len);
		if (n == 0) {
			/*
			 * LibreSSL's libtls takes an EOF without close_notify
			 * as an EOF, and says so only at tls_close(), which
			 * then does no I/O; libtls on OpenSSL 3 fails the
			 * read instead (conn_read() sets cut).
			 */
			if (!c->cut && tls_close(c->tls) == -1)
				c->cut = 1;
			return (long)len;
		}
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n != CONN_AGAIN || io_wait(c->rwaitfd, c->rwaitev,
		    deadline) != 1) {
			snprintf(why, whylen, "%s", n == CONN_AGAIN ?
			    "timed out" : conn_error(c));
			return -1;
		}
	}
	snprintf(why, whylen, "a response larger than %d bytes", RESPONSE_MAX);
	return -1;
}

/* A client context that verifies the server against cafile. */
static struct tls *
https_context(const char *cafile, char *why, size_t whylen)
{
	struct tls_config	*cfg;
	struct tls		*ctx = NULL;

	if ((cfg = tls_config_new()) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (cafile != NULL && tls_config_set_ca_file(cfg, cafile) == -1)
		snprintf(why, whylen, "unable to use %s: %s", cafile,
		    tls_config_error(cfg));
	else if ((ctx = tls_client()) == NULL ||
	    tls_configure(ctx, cfg) == -1) {
		snprintf(why, whylen, "unable to set up TLS");
		tls_free(ctx);
		ctx = NULL;
	}
	tls_config_free(cfg);
	return ctx;
}

/*
 * The policy host's certificate names it as RFC 8461 3.3 asks (RFC 6125:
 * a subjectAltName, no partial wildcard); libtls has verified the chain
 * and is laxer with names.  0, or -1 with why.
 */
static int
https_name(struct tls *ctx, const char *cafile, const char *host, char *why,
    size_t whylen)
{
	const uint8_t	*chain;
	size_t		 len;

	if ((chain = tls_peer_cert_chain_pem(ctx, &len)) == NULL) {
		snprintf(why, whylen, "no certificate from %s", host);
		return -1;
	}
	return servercert_verify(chain, len, cafile != NULL ? cafile :
	    tls_default_ca_cert_file(), host, SERVERCERT_NAME_SAN, why, whylen);
}

/*
 * Fetch domain's policy (RFC 8461 3.3): HTTPS to mta-sts.<domain>, its
 * certificate verified for that name, connected within
 * STS_CONNECT_SECONDS and done within STS_FETCH_SECONDS in all.  0 with
 * p (expires set from now), or -1 with why.
 */
int
sts_fetch(const char *domain, const char *cafile, struct sts_policy *p,
    char *why, size_t whylen)
{
	struct conn	 c;
	struct tls	*ctx;
	char		 host[300], *resp, *body, reason[512];
	size_t		 bodylen;
	long		 now = io_now(), n = -1;
	int		 fd, r;

	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	if ((ctx = https_context(cafile, why, whylen)) == NULL)
		return -1;
	if ((fd = https_connect(host, now + STS_CONNECT_SECONDS * 1000L)) ==
	    -1) {
		snprintf(why, whylen, "unable to connect to %s", host);
		tls_free(ctx);
		return -1;
	}
	conn_init(&c, fd, fd);
	if ((resp = malloc(RESPONSE_MAX)) == NULL)
		snprintf(why, whylen, "out of memory");
	else if ((r = conn_connect(&c, ctx, host, now + STS_FETCH_SECONDS *
	    1000L)) != 0)
		snprintf(why, whylen, "TLS with %s failed: %s", host,
		    r == CONN_TIMEOUT ? "timed out" : conn_error(&c));
	else if (https_name(ctx, cafile, host, reason, sizeof(reason)) == -1)
		snprintf(why, whylen, "%s", reason);
	else
		n = https_get(&c, host, resp, now + STS_FETCH_SECONDS * 1000L,
		    why, whylen);
	tls_close(ctx);
	tls_free(ctx);
	close(fd);
	if (n >= 0 && sts_http_body(resp, (size_t)n, c.cut, &body, &bodylen,
	    reason, sizeof(reason)) == -1) {
		snprintf(why, whylen, "%s gave %s", host, reason);
		n = -1;
	}
	if (n >= 0 && sts_policy_parse(body, bodylen, p, reason,
	    sizeof(reason)) == -1) {
		snprintf(why, whylen, "the policy of %s has %s", domain, reason);
		n = -1;
	}
	free(resp);
	if (n < 0)
		return -1;
	p->expires = time(NULL) + p->max_age;
	return 0;
}

/*
 * Is the cached policy due for a fetch?  When there is none, when the
 * TXT record names another, and before it lapses: once half its max_age
 * has passed, so that a policy host down at the wrong moment does not
 * let the policy expire between deliveries (RFC 8461 3.3).
 */
static int
fetch_due(const struct sts_cached *c, const char *id, time_t now)
{
	if (!c->have_policy || c->policy.expires <= now ||
	    strcmp(c->policy.id, id) != 0)
		return 1;
	return c->policy.expires - now < c->policy.max_age / 2;
}

/* Did a fetch for this id fail too recently to try again? */
static int
failed_lately(const struct sts_cached *c, const char *id, time_t now)
{
	return c->failed != 0 && strcmp(c->failed_id, id) == 0 &&
	    now >= c->failed && now - c->failed < STS_RETRY_SECONDS;
}

/*
 * Fetch domain's policy (the TXT record's id) into c and keep it, or
 * keep the failure, in the cache dirfd (-1: none).  0, or -1 with why.
 */
static int
fetch_and_keep(const char *domain, const char *id, const char *cafile,
    int dirfd, struct sts_cached *c, char *why, size_t whylen)
{
	static struct sts_policy	 p;
	int				 rv;

	if ((rv = sts_fetch(domain, cafile, &p, why, whylen)) == 0) {
		snprintf(p.id, sizeof(p.id), "%s", id);
		c->policy = p;
		c->have_policy = 1;
		c->failed = 0;
	} else {
		c->failed = time(NULL);
		snprintf(c->failed_id, sizeof(c->failed_id), "%s", id);
	}
	if (dirfd >= 0)
		(void)sts_cache_write(dirfd, domain, c);
	return rv;
}

/*
 * The MTA-STS policy for mail to domain now (RFC 8461 5.1): the TXT
 * record's id says whether the cached policy is current; if it is not
 * (or there is none, or it is near its end) the policy is fetched and
 * cached.  A fetch that fails leaves an unexpired cached policy in
 * force, and so does a TXT record that is gone or cannot be looked up:
 * removing it must not strip the protection.  A failed fetch is not
 * tried again for the same id for STS_RETRY_SECONDS.  cachedir NULL: no
 * cache.  1 with p, 0 when no policy (or mode none) applies; note says
 * what went wrong, for the report.
 */
int
sts_policy_for(const char *domain, const char *cachedir, const char *cafile,
    struct sts_policy *p, char *note, size_t notelen)
{
	static struct sts_cached	 c;
	char				 id[STS_IDMAX + 1], why[512];
	time_t				 now = time(NULL);
	int				 dirfd = -1, live;

	note[0] = '\0';
	memset(&c, 0, sizeof(c));
	if (cachedir != NULL &&
	    (dirfd = sts_cache_open(cachedir, why, sizeof(why))) ==
	    STS_CACHE_UNTRUSTED)
		snprintf(note, notelen, "MTA-STS cache not used: %s.", why);
	if (dirfd >= 0 && sts_cache_read(dirfd, domain, &c, why,
	    sizeof(why)) == -1 && why[0] != '\0')
		snprintf(note, notelen, "MTA-STS cache not used: %s in %s.",
		    why, cachedir);
	live = c.have_policy && c.policy.expires > now;
	if (dns_sts(domain, id, sizeof(id)) == DNS_STS_FOUND &&
	    fetch_due(&c, id, now)) {
		if (failed_lately(&c, id, now))
			snprintf(note, notelen, "MTA-STS policy of %s not "
			    "fetched: the last fetch failed %lld s ago%s",
			    domain, (long long)(now - c.failed), live ?
			    "; the cached one applies" : "");
		else if (fetch_and_keep(domain, id, cafile, dirfd, &c, why,
		    sizeof(why)) == 0) {
			if (dirfd >= 0)
				close(dirfd);
			*p = c.policy;
			return p->mode != STS_MODE_NONE;
		} else
			snprintf(note, notelen, "MTA-STS policy of %s not "
			    "fetched: %s%s", domain, why, live ?
			    "; the cached one applies" : "");
	}
	if (dirfd >= 0)
		close(dirfd);
	if (!live)
		return 0;
	*p = c.policy;
	return p->mode != STS_MODE_NONE;
}
