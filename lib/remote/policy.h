/*
 * The TLS verdict for one MX host of one destination (policy.c): first
 * the destination's rule says which MX hosts may serve it and what each
 * must give at least; then the host's own facts choose among those, and
 * never below the rule.  policy_decide() is the whole precedence table,
 * a pure function; policy_facts() gathers what it reads.
 */
#ifndef POLICY_H
#define POLICY_H

#include <limits.h>

#include "dane.h"
#include "dns.h"
#include "sts.h"
#include "tlsdest.h"

/* The destination's rule: whose, and with what */
enum rule_kind {
	RULE_NONE,		/* none: STARTTLS when offered */
	RULE_LOCAL,		/* a line of control/tlsdestinations */
	RULE_STS_TESTING,	/* MTA-STS testing: judged, never refused */
	RULE_STS_ENFORCE	/* MTA-STS enforce */
};

struct domain_rule {
	enum rule_kind		 kind;
	const char		*domain;	/* the policy domain */
	const struct tlsdest	*local;		/* RULE_LOCAL */
	const struct sts_policy	*sts;		/* RULE_STS_* */
};

/* What DNSSEC says of the host's TLSA records */
enum host_tlsa {
	HOST_TLSA_UNKNOWN,	/* not asked: DANE off, no name, not validated */
	HOST_TLSA_NONE,		/* validated: there are none */
	HOST_TLSA_USABLE,	/* validated, and SMTP can use some */
	HOST_TLSA_UNUSABLE,	/* validated, none SMTP can use */
	HOST_TLSA_FAILED	/* the lookup failed (SERVFAIL, bogus) */
};

/* The host-level facts, by the MX name */
struct host_facts {
	int		 pem;		/* tlshosts/<host>.pem exists */
	int		 notls;		/* notlshosts/<host> exists */
	int		 exhaustive;	/* tlshosts/exhaustivelist exists */
	enum host_tlsa	 tlsa;
};

/* What to do with this MX host */
enum verdict_tls {
	VERDICT_SKIP,		/* do not use it at all */
	VERDICT_PLAIN,		/* no STARTTLS */
	VERDICT_MAY,		/* STARTTLS when offered; else plaintext */
	VERDICT_ENCRYPT,	/* TLS or not this host; any certificate */
	VERDICT_CAFILE,		/* TLS, a certificate the rule's CAs vouch for */
	VERDICT_PEM,		/* TLS, verified by tlshosts/<host>.pem */
	VERDICT_DANE		/* TLS, a chain the TLSA records match */
};

/* The rule or fact that decided */
enum verdict_by {
	BY_DEFAULT,		/* nothing: qmail-tls's opportunistic TLS */
	BY_LOCAL,		/* the tlsdestinations line */
	BY_STS,			/* the MTA-STS policy */
	BY_PEM,			/* tlshosts/<host>.pem */
	BY_NOTLSHOSTS,		/* notlshosts/<host> */
	BY_EXHAUSTIVELIST,	/* tlshosts/exhaustivelist */
	BY_TLSA			/* the TLSA records */
};

struct verdict {
	enum verdict_tls	 tls;
	enum verdict_by		 by;
	int			 testing;	/* MTA-STS testing: judge too */
	int			 listed;	/* an MX of the MTA-STS policy */
};

/* What policy_facts() found for an MX host, kept for its next address */
struct mx_facts {
	char			 host[DNS_MAXHOST];	/* as DNS spelled it */
	int			 port;
	int			 secure;
	struct host_facts	 f;
	char			 pem[PATH_MAX];		/* f.pem: the file */
	char			 notls[PATH_MAX];	/* f.notls: the file */
	struct tlsa_set		 tlsa;			/* HOST_TLSA_USABLE */
};

void	policy_decide(const struct domain_rule *r, const char *host,
	    const struct host_facts *found, struct verdict *v);
void	policy_facts(const char *dir, const struct dns_addr *d, int port,
	    int dane, struct mx_facts *m);

#endif
