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

int	sts_txt(const char *txt, size_t len, char *id, size_t idlen);
int	sts_policy_parse(const char *body, size_t len, struct sts_policy *p,
	    char *why, size_t whylen);
int	sts_http_body(char *resp, size_t len, int cut, char **body,
	    size_t *bodylen, char *why, size_t whylen);
const char *sts_mx_next(const struct sts_policy *p, const char *prev);
int	sts_mx_match(const struct sts_policy *p, const char *host);
const char *sts_mode_name(enum sts_mode m);

#endif
