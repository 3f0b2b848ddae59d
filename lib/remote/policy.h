/*
 * TLS policy per mail server: the qmail-tls patch's control files, DANE
 * (RFC 7672) for servers that publish TLSA records, and MTA-STS (RFC 8461)
 * for domains that publish a policy.
 */
#ifndef POLICY_H
#define POLICY_H

#include <limits.h>
#include <stddef.h>

#include "certid.h"
#include "dns.h"
#include "sts.h"

enum tls_policy {
	POLICY_NONE,		/* notlshosts/H, or exhaustivelist without H.pem */
	POLICY_MAY,		/* STARTTLS when offered, any certificate */
	POLICY_VERIFY,		/* tlshosts/H.pem: TLS required, verified */
	POLICY_DANE,		/* usable TLSA records: TLS, a chain they match */
	POLICY_DANE_ENCRYPT,	/* TLSA records, none usable: TLS, unverified */
	POLICY_DANE_FAILED,	/* the TLSA lookup failed: not this server */
	POLICY_STS,		/* MTA-STS enforce: TLS, WebPKI-verified */
	POLICY_STS_NOMATCH	/* MTA-STS enforce, not a listed MX: not used */
};

struct policy {
	enum tls_policy	 level;
	char		 file[PATH_MAX];	/* the control file that decided */
	struct tlsa_set	 tlsa;			/* for POLICY_DANE */
	enum dns_tlsa	 tlsa_found;		/* of this lookup: */
	char		 tlsa_host[DNS_MAXHOST];
	int		 tlsa_port;
	int		 sts_testing;	/* MTA-STS testing: say what fails */
	int		 sts_listed;	/* the MX matches the MTA-STS policy */
};

void	policy_lookup(const char *, const struct dns_addr *, int, int,
	    const struct sts_policy *, struct policy *);
int	policy_tls_required(enum tls_policy);

#endif
