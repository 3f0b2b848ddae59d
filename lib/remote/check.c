/*
 * starttls-remote -C: the control files checked as a delivery reads them
 * (confcheck.h), one line each on stdout; run by hand, never by qmail.
 * What the checks below add to confcheck.c's is starttls-remote's own:
 * DANE's resolver and whether it validates, the MTA-STS cache and CAs,
 * tlsdestinations.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "check.h"
#include "confcheck.h"
#include "control.h"
#include "dns.h"
#include "stsfetch.h"
#include "tlsdest.h"

/*
 * Does the resolver that DANE trusts validate?  Without that, it is
 * trusted for nothing, and no TLSA record is ever used.
 */
static void
check_validation(struct confcheck *c, const char *resolver)
{
	switch (dns_validates()) {
	case 1:
		confcheck_say(c, "nodane", CHECK_OK, "absent, so DANE is on: "
		    "the resolver %s validates (the AD bit on its answer for "
		    "the root zone)", resolver);
		break;
	case 0:
		confcheck_say(c, "nodane", CHECK_WARNING, "absent, but DANE "
		    "never applies: the resolver %s does not validate (no AD "
		    "bit on its answer for the root zone)", resolver);
		break;
	default:
		confcheck_say(c, "nodane", CHECK_WARNING, "absent, but the "
		    "resolver %s did not answer for the root zone: whether it "
		    "validates is unknown, and deliveries find no mail server "
		    "while it does not answer", resolver);
	}
}

/*
 * Is DANE on, and can it ever apply: does the resolver a delivery would
 * ask have its DNSSEC answers trusted, and does it validate them?
 */
static void
check_dane(struct confcheck *c, const char *dir)
{
	char	 path[PATH_MAX], resolver[80];

	if (control_path(path, sizeof(path), dir, "nodane") == 0 &&
	    access(path, F_OK) == 0)
		confcheck_say(c, "nodane", CHECK_OK, "DANE is off");
	else if (dns_init(1) == -1)
		confcheck_say(c, "nodane", CHECK_ERROR, "absent, so DANE is "
		    "on, but the resolver cannot be set up: see $DNSCACHEIP "
		    "and /etc/resolv.conf");
	else if (dns_trusted(resolver, sizeof(resolver)))
		check_validation(c, resolver);
	else
		confcheck_say(c, "nodane", CHECK_WARNING, "absent, but DANE "
		    "never applies: the resolver %s is not on this host, and "
		    "/etc/resolv.conf does not trust it (options trust-ad)",
		    resolver);
}

/*
 * The files in the MTA-STS cache: each must be ours alone, or a
 * delivery passes it over (and another user may have planted it).
 */
static void
check_sts_files(struct confcheck *c, const char *cache, int dirfd)
{
	struct sts_cached	*rec;
	struct dirent		*e;
	DIR			*dp;
	char			 why[512];
	int			 bad = 0, fd;

	if ((fd = dup(dirfd)) == -1 || (dp = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	if ((rec = malloc(sizeof(*rec))) == NULL) {
		closedir(dp);
		return;
	}
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (sts_cache_read(dirfd, e->d_name, rec, why,
		    sizeof(why)) == -1 && why[0] != '\0') {
			confcheck_say(c, "mtastsdir", CHECK_ERROR, "%s/%s: %s: "
			    "deliveries pass it over; remove it", cache,
			    e->d_name, why);
			bad = 1;
		}
	}
	if (!bad)
		confcheck_say(c, "mtastsdir", CHECK_OK, "MTA-STS policies are "
		    "cached in %s", cache);
	free(rec);
	closedir(dp);
}

/*
 * Is MTA-STS on, can its policies be cached (a directory this user
 * alone can write), and which CAs vouch for policy hosts and MX hosts?
 */
static void
check_sts(struct confcheck *c, const char *home, const char *dir)
{
	struct stat	 st;
	char		 path[PATH_MAX], line[PATH_MAX], cache[2 * PATH_MAX];
	char		 why[512];
	int		 r, fd;

	if (control_path(path, sizeof(path), dir, "nomtasts") == 0 &&
	    access(path, F_OK) == 0) {
		confcheck_say(c, "nomtasts", CHECK_OK, "MTA-STS is off");
		return;
	}
	if ((r = control_readline(dir, "mtastsdir", line, sizeof(line))) == -1)
		confcheck_say(c, "mtastsdir", CHECK_UNCHECKED, "unable to read: "
		    "%s", strerror(errno));
	snprintf(cache, sizeof(cache), "%s%s%s", r > 0 && line[0] == '/' ? "" :
	    home, r > 0 && line[0] == '/' ? "" : "/", r > 0 ? line :
	    STS_CACHE_DIR);
	if ((fd = sts_cache_open(cache, why, sizeof(why))) ==
	    STS_CACHE_UNTRUSTED && geteuid() == 0 && stat(cache, &st) == 0 &&
	    st.st_uid != 0 && !(st.st_mode & (S_IWGRP | S_IWOTH)))
		confcheck_say(c, "mtastsdir", CHECK_UNCHECKED, "%s belongs to "
		    "uid %ld and only it can write there, as it should if that "
		    "is qmailr; run -C as qmailr to check its files as "
		    "deliveries see them", cache, (long)st.st_uid);
	else if (fd == STS_CACHE_UNTRUSTED)
		confcheck_say(c, "mtastsdir", CHECK_ERROR, "%s: deliveries do "
		    "not use it; make it owned by qmailr and writable by it "
		    "alone (chown qmailr; chmod 700)", why);
	else if (fd == STS_CACHE_ABSENT && errno == ENOENT)
		confcheck_say(c, "mtastsdir", CHECK_WARNING, "no %s: MTA-STS "
		    "policies are fetched for every delivery; make it, owned "
		    "by qmailr, mode 700", cache);
	else if (fd == STS_CACHE_ABSENT)
		confcheck_say(c, "mtastsdir", CHECK_WARNING, "%s", why);
	else if (access(cache, W_OK | X_OK) == -1)
		confcheck_say(c, "mtastsdir", CHECK_WARNING, "%s is not "
		    "writable by this user: %s", cache, strerror(errno));
	else
		check_sts_files(c, cache, fd);
	if (fd >= 0)
		close(fd);
	if ((r = control_readline(dir, "mtastscafile", line,
	    sizeof(line))) == -1)
		confcheck_say(c, "mtastscafile", CHECK_UNCHECKED, "unable to "
		    "read: %s", strerror(errno));
	else
		confcheck_cafile(c, "mtastscafile", r > 0 ? line :
		    tls_default_ca_cert_file());
}

/* One line of tlsdestinations: what it means, or why it is bad. */
static void
check_tlsdest_line(struct confcheck *c, const char *home,
    const struct tlsdest *t)
{
	char	 path[2 * PATH_MAX], file[64];

	snprintf(file, sizeof(file), "tlsdestinations:%d", t->line);
	if (t->error[0] != '\0') {
		confcheck_say(c, file, CHECK_ERROR, "%s%s%s", t->error,
		    t->dest[0] != '\0' ? "; mail to " : "", t->dest[0] != '\0' ?
		    t->dest : "");
		return;
	}
	if (t->cafile[0] != '\0') {
		snprintf(path, sizeof(path), "%s%s%s", t->cafile[0] == '/' ?
		    "" : home, t->cafile[0] == '/' ? "" : "/", t->cafile);
		confcheck_cafile(c, file, path);
	}
	confcheck_say(c, file, CHECK_OK, "%s: %s%s%s", t->dest,
	    tlsdest_level_name(t->level), t->mxlen > 0 ? ", with an mx= list" :
	    t->level == TLSDEST_VERIFY ? ", MX hosts in the domain" : "",
	    t->level == TLSDEST_VERIFY && t->cafile[0] == '\0' ?
	    ", the system's CAs" : "");
}

/* control/tlsdestinations, line by line. */
static void
check_tlsdest(struct confcheck *c, const char *home, const char *dir)
{
	struct tlsdest	 t;
	char		*text, *line, *nl, *end;
	size_t		 len;
	int		 n = 0;

	if (control_readfile(dir, "tlsdestinations", &text, &len) == -1) {
		confcheck_say(c, "tlsdestinations", CHECK_ERROR, "unable to "
		    "read: %s", strerror(errno));
		return;
	}
	if (text == NULL)
		return;
	end = text + len;
	for (line = text; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		n++;
		if (tlsdest_parse(line, (size_t)(nl - line), &t) == 1)
			continue;
		t.line = n;
		check_tlsdest_line(c, home, &t);
	}
	free(text);
}

int
check_remote(const char *home)
{
	struct confcheck	 c;
	char			 dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/control", home);
	confcheck_init(&c, dir);
	confcheck_keypair(&c, "clientcert.pem", NULL, CHECK_OPTIONAL);
	confcheck_ciphers(&c, "tlsclientciphers", NULL);
	confcheck_tlshosts(&c);
	check_tlsdest(&c, home, dir);
	check_dane(&c, dir);
	check_sts(&c, home, dir);
	return confcheck_status(&c);
}
