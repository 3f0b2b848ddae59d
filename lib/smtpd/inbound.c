/*
 * starttls-smtpd -C -D: what DANE and MTA-STS senders will see of this
 * server.  For each name it answers as, the TLSA records at
 * _25._tcp.<name>, through the resolver and on the terms starttls-remote
 * trusts its answers, against the chain it would serve that name; for
 * each domain named, its MTA-STS policy against those names and that
 * chain.  One line per finding (confcheck.h), and for every name the
 * 3 1 1 record of its key, ready to publish.
 *
 * The deploy hook runs this on a new certificate before it puts it in
 * place: a renewal with a new key that no published TLSA record matches
 * would make every DANE sender defer this server's mail.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tls.h>

#include "confcheck.h"
#include "control.h"
#include "dane.h"
#include "dns.h"
#include "inbound.h"
#include "servercert.h"
#include "sts.h"
#include "stsfetch.h"
#include "tlsconf.h"

#define INBOUND_MAXNAMES	64	/* DNS names read from one certificate */

/* One name and the chain this server would serve it. */
struct served {
	const char	*name;
	const char	*file;		/* servercert.pem, servercerts/N.pem */
	const uint8_t	*pem;
	size_t		 len;
};

/* Which file a client asking for name gets: its own, or the default. */
static const char *
file_for(const char *dir, const char *name, char *buf, size_t len)
{
	char	 lower[TLSCONF_NAME_MAX + 1];
	char	 path[PATH_MAX + TLSCONF_NAME_MAX + 32];
	FILE	*f;

	if (!tlsconf_servername(name, lower, sizeof(lower)))
		return "servercert.pem";
	snprintf(buf, len, "servercerts/%s.pem", lower);
	if (snprintf(path, sizeof(path), "%s/%s", dir, buf) >=
	    (int)sizeof(path) || (f = fopen(path, "r")) == NULL)
		return "servercert.pem";
	fclose(f);
	return buf;
}

/* The TLSA records of one name against the chain it is served. */
static void
check_tlsa(struct confcheck *c, const struct served *s, int trusted)
{
	static struct tlsa_set	 set;
	const struct tlsa	*m;
	char			 what[300], record[160], why[512];

	snprintf(what, sizeof(what), "_25._tcp.%s", s->name);
	if (dane_record(s->pem, s->len, record, sizeof(record)) == 0)
		confcheck_note(c, what, CHECK_OK, "the key of %s is published "
		    "as: %s. IN TLSA %s", s->file, what, record);
	if (!trusted)
		return;
	switch (dns_tlsa(s->name, 25, &set)) {
	case DNS_TLSA_NONE:
		confcheck_note(c, what, CHECK_OK, "no TLSA records: DANE does "
		    "not apply to %s", s->name);
		return;
	case DNS_TLSA_INSECURE:
		confcheck_note(c, what, CHECK_WARNING, "TLSA records, but the "
		    "zone is not signed: senders ignore them");
		return;
	case DNS_TLSA_FAILED:
		confcheck_note(c, what, CHECK_ERROR, "the TLSA lookup failed "
		    "(SERVFAIL: a bogus signature or a broken zone): DANE "
		    "senders defer mail to %s", s->name);
		return;
	case DNS_TLSA_FOUND:
		break;
	}
	if (set.n == 0)
		confcheck_note(c, what, CHECK_WARNING, "only TLSA records SMTP "
		    "cannot use (usage 0 or 1): DANE senders encrypt without "
		    "authenticating");
	else if (dane_match(&set, s->pem, s->len, s->name, &m, why,
	    sizeof(why)) == 0)
		confcheck_note(c, what, CHECK_OK, "%s matches TLSA %u %u %u%s",
		    s->file, m->usage, m->selector, m->mtype, m->usage ==
		    TLSA_DANE_TA ? ", a certificate of its chain" : "");
	else
		confcheck_note(c, what, CHECK_ERROR, "%s matches none of its %zu "
		    "TLSA records, and DANE senders would defer mail to %s "
		    "(%s).  Publish %s. IN TLSA %s beside them, wait twice "
		    "their TTL, then deploy", s->file, set.n, s->name, why,
		    what, record);
}

/* One domain's MTA-STS policy against the names and their chains. */
static void
check_sts(struct confcheck *c, const char *dir, const char *domain,
    const struct served *s, size_t n)
{
	static struct sts_policy	 p;
	char				 ca[PATH_MAX], what[300], why[512];
	size_t				 i, listed = 0;
	int				 r;

	snprintf(what, sizeof(what), "mta-sts.%s", domain);
	if ((r = control_readline(dir, "mtastscafile", ca, sizeof(ca))) <= 0)
		snprintf(ca, sizeof(ca), "%s", tls_default_ca_cert_file());
	if (sts_fetch(domain, ca, &p, why, sizeof(why)) == -1) {
		confcheck_note(c, what, CHECK_WARNING, "no policy: %s", why);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!sts_mx_match(&p, s[i].name))
			continue;
		listed++;
		if (servercert_verify(s[i].pem, s[i].len, ca, s[i].name,
		    SERVERCERT_NAME_SAN, why, sizeof(why)) == 0)
			confcheck_note(c, what, CHECK_OK, "%s is an MX of the "
			    "policy (%s), and %s covers it", s[i].name,
			    sts_mode_name(p.mode), s[i].file);
		else
			confcheck_note(c, what, p.mode == STS_MODE_ENFORCE ?
			    CHECK_ERROR : CHECK_WARNING, "%s is an MX of the "
			    "policy (%s), but senders refuse %s: %s", s[i].name,
			    sts_mode_name(p.mode), s[i].file, why);
	}
	if (listed == 0 && p.mode != STS_MODE_NONE)
		confcheck_note(c, what, p.mode == STS_MODE_ENFORCE ?
		    CHECK_ERROR : CHECK_WARNING, "none of this server's names "
		    "is an MX of the policy (%s): its senders %s",
		    sts_mode_name(p.mode), p.mode == STS_MODE_ENFORCE ?
		    "refuse this server" : "would refuse it in enforce mode");
}

/* Can TLSA answers be believed?  Said once; 1 or 0. */
static int
resolver_trusted(struct confcheck *c)
{
	char	 resolver[64];
	int	 v;

	if (dns_init(1) == -1) {
		confcheck_note(c, "resolver", CHECK_WARNING, "cannot be set up "
		    "(see $DNSCACHEIP and /etc/resolv.conf): TLSA records not "
		    "checked");
		return 0;
	}
	if (!dns_trusted(resolver, sizeof(resolver))) {
		confcheck_note(c, "resolver", CHECK_WARNING, "%s is not on this "
		    "host and not trusted (options trust-ad): TLSA records "
		    "not checked", resolver);
		return 0;
	}
	if ((v = dns_validates()) != 1) {
		confcheck_note(c, "resolver", CHECK_WARNING, "%s %s: TLSA "
		    "records not checked", resolver, v == -1 ? "does not "
		    "answer" : "does not validate DNSSEC");
		return 0;
	}
	confcheck_note(c, "resolver", CHECK_OK, "%s validates DNSSEC",
	    resolver);
	return 1;
}

/* Read the file that serves s->name into s; 0, or -1 said. */
static int
load(struct confcheck *c, const char *dir, struct served *s, char **buf)
{
	*buf = NULL;
	if (control_readfile(dir, s->file, buf, &s->len) != 1) {
		confcheck_say(c, s->file, CHECK_UNCHECKED, "unable to read: %s",
		    *buf == NULL && errno != 0 ? strerror(errno) : "absent");
		free(*buf);
		*buf = NULL;
		return -1;
	}
	s->pem = (const uint8_t *)*buf;
	return 0;
}

/* Add name to names (n of them) unless it is there; the new count. */
static size_t
add_name(char (*names)[256], size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(names[i], name) == 0)
			return n;
	if (n == INBOUND_MAXNAMES || strlen(name) >= sizeof(names[0]))
		return n;
	snprintf(names[n], sizeof(names[0]), "%s", name);
	return n + 1;
}

/*
 * The names this server answers as: those given, or else the DNS names
 * of servercert.pem (a wildcard has no TLSA records of its own) and the
 * name of each servercerts/<name>.pem.
 */
static size_t
names_to_check(struct confcheck *c, const char *dir, char **given,
    char (*names)[256])
{
	static char	 found[INBOUND_MAXNAMES][256];
	struct served	 s;
	struct dirent	*e;
	DIR		*dp;
	char		*buf, path[PATH_MAX];
	size_t		 i, k, n = 0, len;

	for (; given != NULL && *given != NULL; given++)
		n = add_name(names, n, *given);
	if (n > 0)
		return n;
	s.file = "servercert.pem";
	if (load(c, dir, &s, &buf) == 0) {
		k = servercert_names(s.pem, s.len, found, INBOUND_MAXNAMES);
		for (i = 0; i < k; i++)
			if (found[i][0] != '*')
				n = add_name(names, n, found[i]);
		free(buf);
	}
	snprintf(path, sizeof(path), "%s/servercerts", dir);
	if ((dp = opendir(path)) != NULL) {
		while ((e = readdir(dp)) != NULL)
			if ((len = strlen(e->d_name)) > 4 && e->d_name[0] != '.' &&
			    strcmp(e->d_name + len - 4, ".pem") == 0) {
				e->d_name[len - 4] = '\0';
				n = add_name(names, n, e->d_name);
			}
		closedir(dp);
	}
	if (n == 0)
		confcheck_note(c, "names", CHECK_WARNING, "servercert.pem has no "
		    "DNS names: give the names this server answers as");
	return n;
}

/*
 * starttls-smtpd -C -D [name ...] with -m domains: the TLSA records of
 * every name against the chain served for it, and each domain's MTA-STS
 * policy against them.
 */
void
inbound_check(struct confcheck *c, const char *dir, char **given,
    char **domains)
{
	static char	 names[INBOUND_MAXNAMES][256];
	static char	 files[INBOUND_MAXNAMES][TLSCONF_NAME_MAX + 32];
	struct served	 s[INBOUND_MAXNAMES];
	char		*buf[INBOUND_MAXNAMES];
	size_t		 i, k, n = 0;
	int		 trusted;

	k = names_to_check(c, dir, given, names);
	for (i = 0; i < k; i++) {
		s[n].name = names[i];
		s[n].file = file_for(dir, names[i], files[i], sizeof(files[i]));
		if (load(c, dir, &s[n], &buf[n]) == 0)
			n++;
	}
	trusted = resolver_trusted(c);
	for (i = 0; i < n; i++)
		check_tlsa(c, &s[i], trusted);
	for (; domains != NULL && *domains != NULL; domains++)
		check_sts(c, dir, *domains, s, n);
	for (i = 0; i < n; i++)
		free(buf[i]);
}
