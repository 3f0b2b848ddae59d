/*
 * The TLS policy for a mail server: the qmail-tls patch's control files
 * (tlshosts/<host>.pem, notlshosts/<host>, tlshosts/exhaustivelist) and
 * DANE, in one order (see policy_lookup and starttls-remote(8)).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

/* Does dir/sub/name<suffix> exist, spelled as given or in lower case? */
static int
policy_file(const char *dir, const char *sub, const char *name,
    const char *lower, const char *suffix, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "%s/%s/%s%s", dir, sub, name, suffix);
	if (access(path, F_OK) == 0)
		return 1;
	snprintf(path, pathlen, "%s/%s/%s%s", dir, sub, lower, suffix);
	return access(path, F_OK) == 0;
}

/*
 * The TLSA records of d->host decide, if DNSSEC validated the way to it
 * (RFC 7672 2.2): 1, or 0 when DANE does not apply.
 */
static int
policy_dane(const struct dns_addr *d, int port, struct policy *p)
{
	if (!d->secure)
		return 0;
	/* the next address of the same host: its records are known */
	if (strcmp(p->tlsa_host, d->host) != 0 || p->tlsa_port != port) {
		p->tlsa_found = dns_tlsa(d->host, port, &p->tlsa);
		snprintf(p->tlsa_host, sizeof(p->tlsa_host), "%s", d->host);
		p->tlsa_port = port;
	}
	switch (p->tlsa_found) {
	case DNS_TLSA_NONE:
		return 0;
	case DNS_TLSA_FOUND:
		p->level = p->tlsa.n > 0 ? POLICY_DANE : POLICY_DANE_ENCRYPT;
		return 1;
	case DNS_TLSA_FAILED:
		p->level = POLICY_DANE_FAILED;
		return 1;
	}
	return 0;
}

/*
 * The TLS policy for a mail server, by its host name as found in the MX
 * record, the relay's name from smtproutes, or the domain itself when it
 * has no MX, in this order: a tlshosts/<host>.pem always wins (as in the
 * qmail-tls patch, and as Postfix's policy table wins over DANE); then
 * notlshosts/<host>, the administrator's word for that one server; then,
 * with dane, the server's TLSA records (RFC 8461 2: DANE wins over
 * MTA-STS); then the domain's MTA-STS policy sts, in enforce mode (in
 * testing mode it only notes what would fail); then
 * tlshosts/exhaustivelist, which keeps opportunistic TLS to the listed
 * hosts but stops neither DANE nor MTA-STS.  The name is tried as DNS spelled it (as the patch does) and in
 * lower case, without a trailing dot.  p->file gets the path of the file
 * that decided: the .pem file for POLICY_VERIFY, the notlshosts file or
 * exhaustivelist for POLICY_NONE.
 */
void
policy_lookup(const char *dir, const struct dns_addr *d, int port, int dane,
    const struct sts_policy *sts, struct policy *p)
{
	const char	*host = d->host;
	char		 name[256], lower[256];
	size_t		 i, len = strlen(host);
	unsigned char	 addr[16];

	p->level = POLICY_MAY;
	p->file[0] = '\0';
	p->sts_listed = sts != NULL && sts_mx_match(sts, host);
	p->sts_testing = sts != NULL && sts->mode == STS_MODE_TESTING;
	/* an address has no name to look up or to check: opportunistic */
	if (host[0] == '[' || inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		return;
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(name) || host[0] == '.')
		return;
	for (i = 0; i < len; i++) {
		if (host[i] == '/')
			return;		/* never a path */
		name[i] = host[i];
		lower[i] = host[i] >= 'A' && host[i] <= 'Z' ?
		    host[i] - 'A' + 'a' : host[i];
	}
	name[len] = lower[len] = '\0';
	if (policy_file(dir, "tlshosts", name, lower, ".pem", p->file,
	    sizeof(p->file)))
		p->level = POLICY_VERIFY;
	else if (policy_file(dir, "notlshosts", name, lower, "", p->file,
	    sizeof(p->file)))
		p->level = POLICY_NONE;
	else if (dane && policy_dane(d, port, p))
		p->file[0] = '\0';
	else if (sts != NULL && sts->mode == STS_MODE_ENFORCE)
		p->level = p->sts_listed ? POLICY_STS : POLICY_STS_NOMATCH;
	else {
		snprintf(p->file, sizeof(p->file), "%s/tlshosts/exhaustivelist",
		    dir);
		if (access(p->file, F_OK) == 0)
			p->level = POLICY_NONE;
		else
			p->file[0] = '\0';
	}
}

/* Must the message go over TLS, or not to this server at all? */
int
policy_tls_required(enum tls_policy level)
{
	return level == POLICY_VERIFY || level == POLICY_DANE ||
	    level == POLICY_DANE_ENCRYPT || level == POLICY_STS;
}
