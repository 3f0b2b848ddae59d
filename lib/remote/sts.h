/*
 * MTA-STS (RFC 8461): the TXT record that announces a domain's policy,
 * the HTTPS response that carries it, the policy itself and its MX
 * patterns; and (stsfetch.c) fetching it and keeping it between
 * deliveries.  Everything here reads remote input.
 */
#ifndef STS_H
#define STS_H

#include <stddef.h>
#include <time.h>

#define STS_IDMAX	32		/* "id=" 1*32(ALPHA / DIGIT) */
#define STS_MAXAGE	31557600L	/* a year, the largest max_age */
#define STS_BODYMAX	65536		/* a policy larger than this: none */

enum sts_mode {
	STS_MODE_NONE,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE
};

struct sts_policy {
	enum sts_mode	 mode;
	long		 max_age;
	/*
	 * Every mx pattern, in lower case, each ending in a NUL: as many as
	 * the body holds, since each is shorter than its line.
	 */
	char		 mx[STS_BODYMAX];
	size_t		 mxlen;			/* bytes of mx in use */
	size_t		 nmx;
	char		 id[STS_IDMAX + 1];	/* of the TXT record it came with */
	time_t		 expires;		/* fetched + max_age */
};

int	sts_txt(const char *, size_t, char *, size_t);
int	sts_policy_parse(const char *, size_t, struct sts_policy *, char *,
	    size_t);
int	sts_http_body(char *, size_t, int, char **, size_t *, char *,
	    size_t);
const char *sts_mx_next(const struct sts_policy *, const char *);
int	sts_mx_match(const struct sts_policy *, const char *);
const char *sts_mode_name(enum sts_mode);

#endif
