/*
 * MTA-STS policies fetched over HTTPS and kept between deliveries
 * (stsfetch.c).
 */
#ifndef STSFETCH_H
#define STSFETCH_H

#include <time.h>

#include "sts.h"

/*
 * A fetch holds a delivery slot while it waits: a hostile or broken
 * policy host costs at most this, and then not again for the same id
 * for STS_RETRY_SECONDS (RFC 8461 3.3 asks for five minutes or more).
 */
#define STS_CONNECT_SECONDS	5	/* to connect to the policy host */
#define STS_FETCH_SECONDS	10	/* connect, handshake and response */
#define STS_RETRY_SECONDS	300

#define STS_CACHE_DIR		"queue/mta-sts"	/* under the qmail home */

#define STS_CACHE_ABSENT	(-1)	/* sts_cache_open(): no directory */
#define STS_CACHE_UNTRUSTED	(-2)	/* others can write it, or not ours */

/* What the cache keeps of a domain */
struct sts_cached {
	struct sts_policy	 policy;
	int			 have_policy;
	time_t			 failed;	/* the last fetch that failed */
	char			 failed_id[STS_IDMAX + 1];	/* for this id */
};

int	sts_cache_open(const char *dir, char *why, size_t whylen);
int	sts_cache_read(int dirfd, const char *domain, struct sts_cached *c,
	    char *why, size_t whylen);
int	sts_cache_write(int dirfd, const char *domain,
	    const struct sts_cached *c);
int	sts_fetch(const char *domain, const char *cafile, struct sts_policy *p,
	    char *why, size_t whylen);
int	sts_policy_for(const char *domain, const char *cachedir,
	    const char *cafile, struct sts_policy *p, char *note,
	    size_t notelen);

#endif
