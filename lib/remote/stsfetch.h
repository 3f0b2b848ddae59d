/*
 * MTA-STS policies fetched over HTTPS and kept between deliveries
 * (stsfetch.c).
 */
#ifndef STSFETCH_H
#define STSFETCH_H

#include "sts.h"

#define STS_CONNECT_SECONDS	10	/* to connect to the policy host */
#define STS_FETCH_SECONDS	20	/* connect, handshake and response */

int	sts_cache_read(const char *, const char *, struct sts_policy *);
int	sts_cache_write(const char *, const char *, const struct sts_policy *);
int	sts_fetch(const char *, const char *, int, struct sts_policy *, char *,
	    size_t);
int	sts_policy_for(const char *, const char *, const char *,
	    struct sts_policy *, char *, size_t);

#endif
