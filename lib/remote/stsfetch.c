/*
 * MTA-STS, the network and the disk.  The policy is fetched with libtls
 * from https://mta-sts.<domain>/.well-known/mta-sts.txt, verified against
 * a CA bundle (control/mtastscafile, or the system's), and kept between
 * deliveries in a cache directory: one file per domain, written to a
 * temporary file and renamed into place, so that the many starttls-remote
 * processes of a busy queue read it without locks and never see half a
 * file.  A file that does not parse is no cache.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "conn.h"
#include "dns.h"
#include "io.h"
#include "sts.h"
#include "stsfetch.h"
#include "tlsconf.h"

#define CACHE_MAX	(STS_BODYMAX + 256)
#define RESPONSE_MAX	(STS_BODYMAX + 16384)

/* The cache file of domain: 0, or -1 if domain is no DNS name. */
static int
cache_path(char *path, size_t len, const char *dir, const char *domain)
{
	char	 name[256];

	if (!tlsconf_servername(domain, name, sizeof(name)) ||
	    snprintf(path, len, "%s/%s", dir, name) >= (int)len)
		return -1;
	return 0;
}

/*
 * The cached policy of domain, expired or not: 0, or -1 when there is
 * none that parses.  The file is "expires <time>", "id <id>", then the
 * policy as RFC 8461 writes it.
 */
int
sts_cache_read(const char *dir, const char *domain, struct sts_policy *p)
{
	char		 path[4096], *buf, *nl, why[128], id[STS_IDMAX + 1];
	long long	 expires;
	ssize_t		 n;
	int		 fd, rv = -1;

	if (cache_path(path, sizeof(path), dir, domain) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if ((buf = malloc(CACHE_MAX + 1)) == NULL) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, CACHE_MAX + 1);
	close(fd);
	if (n > 0 && n <= CACHE_MAX) {
		buf[n] = '\0';
		/* the policy parse clears p: its id and expiry come after */
		if (sscanf(buf, "expires %lld\nid %32[A-Za-z0-9]\n", &expires,
		    id) == 2 && (nl = strchr(buf, '\n')) != NULL &&
		    (nl = strchr(nl + 1, '\n')) != NULL &&
		    sts_policy_parse(nl + 1, (size_t)(buf + n - nl - 1), p, why,
		    sizeof(why)) == 0) {
			memcpy(p->id, id, sizeof(id));
			p->expires = (time_t)expires;
			rv = 0;
		}
	}
	free(buf);
	return rv;
}

/*
 * Keep p as domain's policy: a temporary file in dir, renamed over the
 * old one.  Concurrent writers each rename a whole file; the last wins.
 * 0, or -1 (the cache is a saving, never a reason to defer).
 */
int
sts_cache_write(const char *dir, const char *domain,
    const struct sts_policy *p)
{
	char	 path[4096], tmp[4096 + 32];
	size_t	 i;
	FILE	*f;
	int	 fd, bad;

	if (cache_path(path, sizeof(path), dir, domain) == -1 ||
	    snprintf(tmp, sizeof(tmp), "%s/.tmp.%ld", dir, (long)getpid()) >=
	    (int)sizeof(tmp))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(f, "expires %lld\nid %s\nversion: STSv1\nmode: %s\n"
	    "max_age: %ld\n", (long long)p->expires, p->id,
	    sts_mode_name(p->mode), p->max_age);
	for (i = 0; i < p->nmx; i++)
		fprintf(f, "mx: %s\n", p->mx[i]);
	bad = fflush(f) != 0 || fsync(fd) != 0;
	if (fclose(f) != 0 || bad || rename(tmp, path) == -1) {
		unlink(tmp);
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
		if (n == 0)
			return (long)len;
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
 * Fetch domain's policy (RFC 8461 3.3): HTTPS to mta-sts.<domain>, its
 * certificate verified for that name, connected within
 * STS_CONNECT_SECONDS and done within seconds in all.  0 with p
 * (expires set from now), or -1 with why.
 */
int
sts_fetch(const char *domain, const char *cafile, int seconds,
    struct sts_policy *p, char *why, size_t whylen)
{
	struct conn	 c;
	struct tls	*ctx;
	char		 host[300], *resp, *body, reason[256];
	size_t		 bodylen;
	long		 deadline = io_now() + seconds * 1000L, n = -1;
	int		 fd, r;

	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	if ((ctx = https_context(cafile, why, whylen)) == NULL)
		return -1;
	if ((fd = https_connect(host, io_now() + STS_CONNECT_SECONDS *
	    1000L < deadline ? io_now() + STS_CONNECT_SECONDS * 1000L :
	    deadline)) == -1) {
		snprintf(why, whylen, "unable to connect to %s", host);
		tls_free(ctx);
		return -1;
	}
	conn_init(&c, fd, fd);
	if ((resp = malloc(RESPONSE_MAX)) == NULL)
		snprintf(why, whylen, "out of memory");
	else if ((r = conn_connect(&c, ctx, host, deadline)) != 0)
		snprintf(why, whylen, "TLS with %s failed: %s", host,
		    r == CONN_TIMEOUT ? "timed out" : conn_error(&c));
	else
		n = https_get(&c, host, resp, deadline, why, whylen);
	tls_close(ctx);
	tls_free(ctx);
	close(fd);
	if (n >= 0 && sts_http_body(resp, (size_t)n, &body, &bodylen, reason,
	    sizeof(reason)) == -1) {
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
 * The MTA-STS policy for mail to domain now (RFC 8461 5.1): the TXT
 * record's id says whether the cached policy is current; if it is not
 * (or there is none, or it expired) the policy is fetched and cached.  A
 * fetch that fails leaves an unexpired cached policy in force, and so
 * does a TXT record that is gone or cannot be looked up: removing it
 * must not strip the protection.  1 with p, 0 when no policy (or mode
 * none) applies; note says what went wrong, for the report.
 */
int
sts_policy_for(const char *domain, const char *cachedir, const char *cafile,
    struct sts_policy *p, char *note, size_t notelen)
{
	static struct sts_policy	 cached;
	char				 id[STS_IDMAX + 1], why[512];
	int				 havecache;

	note[0] = '\0';
	havecache = cachedir != NULL && sts_cache_read(cachedir, domain,
	    &cached) == 0 && cached.expires > time(NULL);
	if (dns_sts(domain, id, sizeof(id)) == DNS_STS_FOUND &&
	    !(havecache && strcmp(cached.id, id) == 0)) {
		if (sts_fetch(domain, cafile, STS_FETCH_SECONDS, p, why,
		    sizeof(why)) == 0) {
			snprintf(p->id, sizeof(p->id), "%s", id);
			if (cachedir != NULL)
				(void)sts_cache_write(cachedir, domain, p);
			return p->mode != STS_MODE_NONE;
		}
		snprintf(note, notelen, "MTA-STS policy of %s not fetched: "
		    "%s%s", domain, why, havecache ? "; the cached one applies" :
		    "");
	}
	if (!havecache)
		return 0;
	*p = cached;
	return p->mode != STS_MODE_NONE;
}
