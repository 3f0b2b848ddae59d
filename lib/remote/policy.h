/*
 * TLS policy per mail server: the qmail-tls patch's control files, and
 * DANE (RFC 7672) for servers that publish TLSA records.
 */
#ifndef POLICY_H
#define POLICY_H

#include <limits.h>
#include <stddef.h>

#include "certid.h"
#include "dns.h"

enum tls_policy {
	POLICY_NONE,		/* notlshosts/H, or exhaustivelist without H.pem */
	POLICY_MAY,		/* STARTTLS when offered, any certificate */
	POLICY_VERIFY,		/* tlshosts/H.pem: TLS required, verified */
	POLICY_DANE,		/* usable TLSA records: TLS, a chain they match */
	POLICY_DANE_ENCRYPT,	/* TLSA records, none usable: TLS, unverified */
	POLICY_DANE_FAILED	/* the TLSA lookup failed: not this server */
};

struct policy {
	enum tls_policy	 level;
	char		 file[PATH_MAX];	/* the control file that decided */
	struct tlsa_set	 tlsa;			/* for POLICY_DANE */
};

void	policy_lookup(const char *, const struct dns_addr *, int, int,
	    struct policy *);
int	policy_tls_required(enum tls_policy);

#endif
