/*
 * control/tlsdestinations: the administrator's TLS rule per destination
 * (the recipient domain, or the smtproutes relay), in s/qmail's file
 * and with its line shape, "destination:rule" (tlsdest.c).
 */
#ifndef TLSDEST_H
#define TLSDEST_H

#include <limits.h>
#include <stddef.h>

#define TLSDEST_MXMAX	1024	/* the mx= patterns, NUL-separated */

/* What the rule asks of every MX host of the destination */
enum tlsdest_level {
	TLSDEST_NONE,		/* no STARTTLS at all */
	TLSDEST_MAY,		/* STARTTLS when offered (the default) */
	TLSDEST_ENCRYPT,	/* TLS, any certificate */
	TLSDEST_VERIFY,		/* TLS, a certificate for the MX name */
	TLSDEST_DANE		/* TLS, authenticated by TLSA records */
};

struct tlsdest {
	enum tlsdest_level	 level;
	char			 cafile[PATH_MAX];	/* ""; libtls's CAs */
	char			 mx[TLSDEST_MXMAX];	/* mx=, lower case */
	size_t			 mxlen;		/* 0: no mx= given */
	int			 line;		/* of the file, from 1 */
	char			 dest[256];	/* as written */
	char			 error[160];	/* not "": the line is bad */
};

int	tlsdest_parse(const char *s, size_t len, struct tlsdest *t);
int	tlsdest_find(const char *text, size_t len, const char *domain,
	    struct tlsdest *t);
int	tlsdest_allows(const struct tlsdest *t, const char *domain,
	    const char *name);
const char *tlsdest_level_name(enum tlsdest_level l);

#endif
