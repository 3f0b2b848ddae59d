/*
 * One TLS verdict per (destination, MX host), in two steps.
 *
 * 1. The destination's rule: its line in control/tlsdestinations, else
 *    its MTA-STS policy, else none.  It says which MX hosts may serve
 *    the destination at all, and the least each must give: no TLS
 *    (a local "none"), STARTTLS when offered, TLS, a verified
 *    certificate, DANE.  An MX host it does not allow is never used,
 *    whatever its name looks like and whatever file exists for it.
 *
 * 2. Among the allowed, the host's own facts, in the qmail-tls patch's
 *    order: tlshosts/<host>.pem, notlshosts/<host>, its TLSA records
 *    (DANE, RFC 7672), tlshosts/exhaustivelist.  A fact that would give
 *    less than the rule asks (notlshosts/ under a rule that requires
 *    TLS, say) does not count.
 *
 * One exception, from RFC 8461 2: usable TLSA records of an MX host that
 * DNSSEC validated the way to take it past an MTA-STS policy's mx list.
 * The attacker cannot forge that MX answer, and DANE is the stronger
 * proof.
 *
 * The table this makes is in starttls(7), and the unit tests walk
 * all of it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mxname.h"
#include "policy.h"

/* The least the rule asks of every MX host */
static enum tlsdest_level
floor_of(const struct domain_rule *r)
{
	switch (r->kind) {
	case RULE_LOCAL:
		return r->local->level;
	case RULE_STS_ENFORCE:
		return TLSDEST_VERIFY;
	default:
		return TLSDEST_MAY;
	}
}

/* May MX name (NULL: no name at all) serve the destination? */
static int
rule_allows(const struct domain_rule *r, const char *name)
{
	switch (r->kind) {
	case RULE_LOCAL:
		return tlsdest_allows(r->local, r->domain, name);
	case RULE_STS_ENFORCE:
		return name != NULL && sts_mx_match(r->sts, name);
	default:
		return 1;
	}
}

/* The verdict and what decided it, in one statement */
#define DECIDE(tls, who)	do { *by = (who); return (tls); } while (0)

/*
 * The precedence table: the rule's least (floor), whether it allows
 * this MX host at all, and the host's facts.  by gets what decided.
 */
static enum verdict_tls
decide(enum tlsdest_level floor, int allowed, enum verdict_by rule,
    const struct host_facts *f, enum verdict_by *by)
{
	if (floor == TLSDEST_NONE)
		DECIDE(VERDICT_PLAIN, BY_LOCAL);
	if (!allowed)
		DECIDE(VERDICT_SKIP, rule);
	if (floor == TLSDEST_DANE && f->tlsa != HOST_TLSA_USABLE)
		DECIDE(VERDICT_SKIP, f->tlsa == HOST_TLSA_FAILED ? BY_TLSA :
		    BY_LOCAL);
	if (f->pem && floor != TLSDEST_DANE)
		DECIDE(VERDICT_PEM, BY_PEM);
	if (f->notls && floor == TLSDEST_MAY)
		DECIDE(VERDICT_PLAIN, BY_NOTLSHOSTS);
	if (f->tlsa == HOST_TLSA_USABLE)
		DECIDE(VERDICT_DANE, BY_TLSA);
	if (f->tlsa == HOST_TLSA_FAILED)
		DECIDE(VERDICT_SKIP, BY_TLSA);
	if (f->tlsa == HOST_TLSA_UNUSABLE && floor <= TLSDEST_ENCRYPT)
		DECIDE(VERDICT_ENCRYPT, BY_TLSA);
	if (floor == TLSDEST_MAY && f->exhaustive)
		DECIDE(VERDICT_PLAIN, BY_EXHAUSTIVELIST);
	if (floor == TLSDEST_MAY)
		DECIDE(VERDICT_MAY, rule);
	DECIDE(floor == TLSDEST_ENCRYPT ? VERDICT_ENCRYPT : VERDICT_CAFILE,
	    rule);
}

/*
 * The verdict for MX host (as DNS gave it) under rule r, given the
 * host-level facts found; for what is no name there are none.
 */
void
policy_decide(const struct domain_rule *r, const char *host,
    const struct host_facts *found, struct verdict *v)
{
	static const struct host_facts	 nothing;
	const struct host_facts		*f = found;
	enum verdict_by			 rule;
	char				 name[MXNAME_MAX];
	int				 isname, allowed;

	memset(v, 0, sizeof(*v));
	if (!(isname = mxname_normal(host, name, sizeof(name))))
		f = &nothing;
	rule = r->kind == RULE_LOCAL ? BY_LOCAL :
	    r->kind == RULE_STS_ENFORCE ? BY_STS : BY_DEFAULT;
	allowed = rule_allows(r, isname ? name : NULL);
	if (!allowed && r->kind == RULE_STS_ENFORCE &&
	    f->tlsa == HOST_TLSA_USABLE) {
		/* RFC 8461 2: DANE, and DANE alone, past the mx list */
		v->tls = VERDICT_DANE;
		v->by = BY_TLSA;
	} else
		v->tls = decide(floor_of(r), allowed, rule, f, &v->by);
	v->testing = r->kind == RULE_STS_TESTING;
	v->listed = isname && r->sts != NULL && sts_mx_match(r->sts, name);
}

/* Does dir/sub/name<suffix> exist, spelled as given or in lower case? */
static int
policy_file(const char *dir, const char *sub, const char *spelled,
    const char *lower, const char *suffix, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "%s/%s/%s%s", dir, sub, spelled, suffix);
	if (access(path, F_OK) == 0)
		return 1;
	snprintf(path, pathlen, "%s/%s/%s%s", dir, sub, lower, suffix);
	return access(path, F_OK) == 0;
}

/*
 * The host-level facts of d->host (port for its TLSA records; dane: is
 * DANE on), into m; kept from the last call when it was for the same
 * host.  Files are looked up by the name as DNS spelled it (as the
 * patch does) and in lower case; nothing is looked up for what is no
 * name.
 */
void
policy_facts(const char *dir, const struct dns_addr *d, int port, int dane,
    struct mx_facts *m)
{
	char	 name[MXNAME_MAX], spelled[MXNAME_MAX], path[PATH_MAX];
	size_t	 len = strlen(d->host);

	if (strcmp(m->host, d->host) == 0 && m->port == port &&
	    m->secure == d->secure)
		return;
	memset(m, 0, sizeof(*m));
	snprintf(m->host, sizeof(m->host), "%s", d->host);
	m->port = port;
	m->secure = d->secure;
	if (!mxname_normal(d->host, name, sizeof(name)))
		return;
	if (len > 0 && d->host[len - 1] == '.')
		len--;
	snprintf(spelled, sizeof(spelled), "%.*s", (int)len, d->host);
	m->f.pem = policy_file(dir, "tlshosts", spelled, name, ".pem", m->pem,
	    sizeof(m->pem));
	m->f.notls = policy_file(dir, "notlshosts", spelled, name, "",
	    m->notls, sizeof(m->notls));
	snprintf(path, sizeof(path), "%s/tlshosts/exhaustivelist", dir);
	m->f.exhaustive = access(path, F_OK) == 0;
	if (!dane || !d->secure)
		return;
	switch (dns_tlsa(d->host, port, &m->tlsa)) {
	case DNS_TLSA_NONE:
	case DNS_TLSA_INSECURE:
		m->f.tlsa = HOST_TLSA_NONE;
		break;
	case DNS_TLSA_FOUND:
		m->f.tlsa = m->tlsa.n > 0 ? HOST_TLSA_USABLE :
		    HOST_TLSA_UNUSABLE;
		break;
	case DNS_TLSA_FAILED:
		m->f.tlsa = HOST_TLSA_FAILED;
		break;
	}
}
