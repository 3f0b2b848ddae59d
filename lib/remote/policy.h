/*
 * TLS policy per mail server name, as the qmail-tls patch keeps it.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>

enum tls_policy {
	POLICY_NONE,		/* notlshosts/H, or exhaustivelist without H.pem */
	POLICY_MAY,		/* STARTTLS when offered, any certificate */
	POLICY_VERIFY		/* tlshosts/H.pem: TLS required, verified */
};

enum tls_policy	 policy_lookup(const char *, const char *, char *, size_t);

#endif
