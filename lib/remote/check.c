/*
 * starttls-remote -C: the control files checked as a delivery reads them
 * (confcheck.h), one line each on stdout; run by hand, never by qmail.
 * What the checks below add to confcheck.c's is starttls-remote's own:
 * DANE's resolver and whether it validates, the environment qmail's rc
 * gives deliveries, who can read the files, the MTA-STS cache and CAs,
 * tlsdestinations.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
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

#define READER		"qmailr"	/* the user deliveries run as */
#define RC_WORDS	64		/* words of rc's qmail-start line */
#define GROUPS_MAX	256		/* root's own groups, kept aside */

/* The user deliveries run as, with the one group qmail-start gives it. */
static struct {
	char	 name[64];
	uid_t	 uid;
	gid_t	 gid;
} reader;

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

/* Is word the program prog, by name or by path? */
static int
word_is(const char *word, const char *prog)
{
	const char	*slash = strrchr(word, '/');

	return strcmp(slash != NULL ? slash + 1 : word, prog) == 0;
}

/* Split line into its blank-separated words, in place: how many. */
static int
rc_words(char *line, char **w)
{
	int	 n = 0;

	for (line = strtok(line, " \t"); line != NULL && n < RC_WORDS;
	    line = strtok(NULL, " \t"))
		w[n++] = line;
	return n;
}

/*
 * The command of rc (continuation lines joined, as the shell joins
 * them) that starts qmail-start, into line: 1, or 0 when there is none.
 */
static int
rc_command(const char *text, size_t len, char *line, size_t size)
{
	char	*w[RC_WORDS], copy[1024];
	size_t	 i, n = 0;
	int	 k, nw;

	for (i = 0; i <= len; i++) {
		if (i + 1 < len && text[i] == '\\' && text[i + 1] == '\n') {
			i++;
			continue;
		}
		if (i < len && text[i] != '\n') {
			if (n + 1 < size)
				line[n++] = text[i];
			continue;
		}
		line[n] = '\0';
		n = 0;
		snprintf(copy, sizeof(copy), "%s", line);
		nw = rc_words(copy, w);
		for (k = 0; k < nw && w[0][0] != '#'; k++)
			if (word_is(w[k], "qmail-start"))
				return 1;
	}
	return 0;
}

/*
 * In rc's command, the words "env -" puts in qmail-start's environment:
 * their index in w and how many (*n), or -1 when qmail-start inherits
 * rc's environment.
 */
static int
rc_envlist(char **w, int nw, int *n)
{
	int	 k, start = -1;

	for (k = 0; k + 1 < nw && !word_is(w[k], "qmail-start"); k++)
		if (word_is(w[k], "env") && (strcmp(w[k + 1], "-") == 0 ||
		    strcmp(w[k + 1], "-i") == 0 ||
		    strcmp(w[k + 1], "--ignore-environment") == 0))
			start = k + 2;
	*n = start == -1 ? 0 : k - start;
	return start;
}

/* The value var has in rc's env list (quotes taken off), or NULL. */
static const char *
rc_value(char **w, int n, const char *var, char *val, size_t size)
{
	size_t	 len = strlen(var), vlen;
	int	 k;

	for (k = 0; k < n; k++) {
		if (strncmp(w[k], var, len) != 0 || w[k][len] != '=')
			continue;
		snprintf(val, size, "%s", w[k] + len + 1);
		vlen = strlen(val);
		if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[vlen - 1] == val[0]) {
			memmove(val, val + 1, vlen - 2);
			val[vlen - 2] = '\0';
		}
		return val;
	}
	return NULL;
}

/*
 * $DNSCACHEIP of -C's environment against the one rc gives qmail-start
 * (given, or NULL): where they differ, DANE was judged for another
 * resolver than deliveries ask.  line: rc's command; at: where its env
 * list starts, for the line that works.
 */
static void
rc_compare(struct confcheck *c, const char *rc, const char *given,
    const char *line, size_t at)
{
	const char	*here = getenv("DNSCACHEIP");

	if (here != NULL && *here == '\0')
		here = NULL;
	if (given == NULL && here == NULL)
		return;
	if (given == NULL)
		confcheck_say(c, rc, CHECK_WARNING, "qmail-start runs through "
		    "env -, which drops $DNSCACHEIP: this check asked %s, "
		    "deliveries ask the resolvers of /etc/resolv.conf; the line "
		    "that works: %.*s DNSCACHEIP=%s%s", here, (int)at, line,
		    here, line + at);
	else if (here != NULL && strcmp(given, here) == 0)
		confcheck_say(c, rc, CHECK_OK, "qmail-start gets DNSCACHEIP=%s, "
		    "as this check had it", given);
	else
		confcheck_say(c, rc, CHECK_WARNING, "qmail-start gets "
		    "DNSCACHEIP=%s, but this check had %s%s: run it with "
		    "DNSCACHEIP=%s to see what deliveries see", given,
		    here != NULL ? "DNSCACHEIP=" : "no $DNSCACHEIP",
		    here != NULL ? here : "", given);
}

/*
 * qmail-send, and so every delivery, has the environment that rc in the
 * qmail home gives qmail-start: with "env -", only what it lists.
 */
static void
check_rc(struct confcheck *c, const char *home)
{
	char	 rc[PATH_MAX], line[1024], copy[1024], val[256], *text;
	char	*w[RC_WORDS];
	size_t	 len;
	int	 nw, start, n;

	if (control_readfile(home, "rc", &text, &len) != 1)
		return;
	snprintf(rc, sizeof(rc), "%s/rc", home);
	if (rc_command(text, len, line, sizeof(line))) {
		snprintf(copy, sizeof(copy), "%s", line + strspn(line, " \t"));
		snprintf(line, sizeof(line), "%s", copy);
		nw = rc_words(copy, w);
		if ((start = rc_envlist(w, nw, &n)) != -1)
			rc_compare(c, rc, rc_value(w + start, n, "DNSCACHEIP",
			    val, sizeof(val)), line, (size_t)(w[start - 1] -
			    copy) + strlen(w[start - 1]));
	}
	free(text);
}

/* Back to root's own ids, or no check after this one could be trusted. */
static void
reader_leave(gid_t egid, const gid_t *groups, int n)
{
	if (seteuid(0) == -1 || setegid(egid) == -1 ||
	    setgroups(n, groups) == -1) {
		printf("starttls-remote: fatal: unable to become root again: "
		    "%s\n", strerror(errno));
		exit(111);
	}
}

/*
 * Can the reader open path?  The kernel says, with the reader's ids as
 * this process's effective ones for the moment: modes, ACLs and the
 * directories on the way all count.  1, 0 (errno says why), or -1 when
 * the ids could not be taken.
 */
static int
reader_opens(const char *path)
{
	gid_t	 groups[GROUPS_MAX], egid = getegid();
	int	 n, fd, saved, r = -1;

	if ((n = getgroups(GROUPS_MAX, groups)) == -1)
		return -1;
	if (setgroups(1, &reader.gid) == 0 && setegid(reader.gid) == 0 &&
	    seteuid(reader.uid) == 0) {
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
		r = fd != -1;
		if (fd != -1)
			close(fd);
	}
	saved = errno;
	reader_leave(egid, groups, n);
	errno = saved;
	return r;
}

/* Can the reader read control/file?  lost: what follows if not. */
static void
check_reader(struct confcheck *c, const char *file, const char *lost)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	if (control_path(path, sizeof(path), c->dir, file) == -1 ||
	    stat(path, &st) == -1)
		return;		/* its own lines say so */
	switch (reader_opens(path)) {
	case 1:
		confcheck_say(c, file, CHECK_OK, "%s can read it",
		    reader.name);
		break;
	case 0:
		confcheck_say(c, file, CHECK_ERROR, "%s cannot read it (%s): "
		    "%s", reader.name, strerror(errno), lost);
		break;
	default:
		confcheck_say(c, file, CHECK_UNCHECKED, "unable to check as "
		    "%s: %s", reader.name, strerror(errno));
	}
}

static void
tlshosts_reader(struct confcheck *c, const char *file, const char *entry)
{
	size_t	 n = strlen(entry);

	if (n > 4 && strcmp(entry + n - 4, ".pem") == 0)
		check_reader(c, file, "every delivery to that host is "
		    "deferred");
}

/*
 * Who can read the files a delivery reads.  Run as root, -C itself can
 * read them all, so each is opened as the user deliveries run as
 * (qmailr, or $STARTTLS_QMAILR).  clientcert.pem holds a private key:
 * no other user should read it.
 */
static void
check_readers(struct confcheck *c)
{
	const char	*name = getenv("STARTTLS_QMAILR");
	struct passwd	*pw;
	char		 path[PATH_MAX];
	struct stat	 st;

	if (name == NULL || *name == '\0')
		name = READER;
	if (control_path(path, sizeof(path), c->dir, "clientcert.pem") == 0 &&
	    stat(path, &st) == 0 && (st.st_mode & S_IROTH))
		confcheck_say(c, "clientcert.pem", CHECK_WARNING, "every user "
		    "can read it, and its private key: chmod 640 (with group "
		    "qmail, e.g.)");
	if (geteuid() != 0)
		return;		/* the lines above say what this user read */
	if ((pw = getpwnam(name)) == NULL) {
		confcheck_say(c, c->dir, CHECK_UNCHECKED, "no user %s here: "
		    "who can read the files is not checked (set "
		    "$STARTTLS_QMAILR to the user deliveries run as)", name);
		return;
	}
	snprintf(reader.name, sizeof(reader.name), "%s", pw->pw_name);
	reader.uid = pw->pw_uid;
	reader.gid = pw->pw_gid;
	check_reader(c, "clientcert.pem", "no client certificate is ever "
	    "sent");
	confcheck_entries(c, "tlshosts", tlshosts_reader);
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
	check_readers(&c);
	check_tlsdest(&c, home, dir);
	check_dane(&c, dir);
	check_rc(&c, home);
	check_sts(&c, home, dir);
	return confcheck_status(&c);
}
