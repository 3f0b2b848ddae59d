/*
 * starttls-remote: qmail-remote, with STARTTLS.
 *
 *	starttls-remote host sender recip ...
 *	starttls-remote -C
 *
 * Run by qmail-rspawn exactly as qmail-remote: the message on fd 0, the
 * report on fd 1, and fd 2 the same pipe, so nothing but the report is
 * ever written.  The texts are qmail-remote's, so qmail-send's logs and
 * bounces read the same; TLS adds to them, never changes them.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "certid.h"
#include "confcheck.h"
#include "control.h"
#include "dns.h"
#include "blast.h"
#include "io.h"
#include "ipme.h"
#include "policy.h"
#include "route.h"
#include "report.h"
#include "sandbox.h"
#include "smtpc.h"
#include "sts.h"
#include "stsfetch.h"
#include "tcpto.h"
#include "tlsconf.h"

#ifndef QMAILHOME
#define QMAILHOME	"/var/qmail"
#endif

#define CONTROL		"control"

static struct {
	char		 helohost[256];
	long		 timeout;	/* seconds, each read or write */
	long		 timeoutconnect;
	char		*routes;
	size_t		 routeslen;
	int		 dane;		/* no control/nodane */
	int		 mtasts;	/* no control/nomtasts */
	char		 stsdir[PATH_MAX];	/* the MTA-STS cache */
	char		 stsca[PATH_MAX];	/* its CA bundle; "": libtls's */
} ctl = { "", 1200, 60, NULL, 0, 1, 1, "", "" };

static const char	*sender;
static char		**recips;
static char		 partner[64];	/* the address we talk to, as text */
static struct smtpc	 smtp;
static int		 critical;	/* the final "." has been sent */

/*
 * What became of TLS in this delivery, for the report: how the message
 * left (said in K), a TLS failure we went on from (said in K, Z and D
 * alike), and local files that were not used (said in every report).
 */
static struct {
	char	 line[PATH_MAX + 128];	/* for K: "TLS TLSv1.3 with ..." */
	char	 problem[PATH_MAX + 128]; /* for Z and D: what failed */
	int	 fellback;	/* plaintext after STARTTLS failed or was refused */
	char	 note[640];	/* "control/clientcert.pem not used: ..." */
	char	 sts[1024];	/* MTA-STS: a fetch that failed, testing mode */
} tls;

/* The TLS policy of the server being tried, looked up before connecting */
static struct policy	 pol;

/* The MTA-STS policy of the recipient domain, if it has one (have_sts) */
static struct sts_policy sts;
static int		 have_sts;
static const char	*domain;		/* argv[1], the recipients' */

/* Servers that DANE or MTA-STS require TLS of, not used, and why */
static char		 skipped[1024];

/* ------------------------------------------------------------ the report */

static void __attribute__((__noreturn__))
die(const char *text)
{
	report_puts(text);
	report_exit();
}

#define temp_nomem()	die("ZOut of memory. (#4.3.0)\n")
#define temp_oserr()	die("ZSystem resources temporarily unavailable. (#4.3.0)\n")
#define temp_noconn()	die("ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n")
#define temp_read()	die("ZUnable to read message. (#4.3.0)\n")
#define temp_dns()	die("ZSorry, I couldn't find any host by that name. (#4.1.2)\n")
#define temp_chdir()	die("ZUnable to switch to home directory. (#4.3.0)\n")
#define temp_control()	die("ZUnable to read control files. (#4.3.0)\n")
#define perm_partialline() die("DSMTP cannot transfer messages with partial final lines. (#5.6.2)\n")
#define perm_usage()	die("DI (qmail-remote) was invoked improperly. (#5.3.5)\n")
#define perm_nomx()	die("DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n")
#define perm_ambigmx()	die("DSorry. Although I'm listed as a best-preference MX or A for that host,\n" \
			    "it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n")

static void __attribute__((__noreturn__))
perm_dns(const char *host)
{
	report_puts("DSorry, I couldn't find any host named ");
	report_safe(host);
	report_puts(". (#5.1.2)\n");
	report_exit();
}

/*
 * The TLS lines that end a report: for K how the message left; for Z
 * and D the TLS failure the delivery went on from, or the TLS it had (a
 * server may refuse what it learnt in the handshake); for all, the local
 * files that were not used.
 */
static void __attribute__((__noreturn__))
report_tls_exit(int letter)
{
	const char	*line = tls.line;

	if (letter != 'K' && tls.problem[0] != '\0')
		line = tls.problem;
	else if (letter != 'K' && smtp.conn.tls == NULL)
		line = "";

	if (line[0] != '\0') {
		report_puts(line);
		report_puts("\n");
	}
	if (tls.sts[0] != '\0') {
		report_puts(tls.sts);
		report_puts("\n");
	}
	if (tls.note[0] != '\0') {
		report_puts(tls.note);
		report_puts("\n");
	}
	report_exit();
}

static void __attribute__((__noreturn__))
dropped(void)
{
	report_puts("ZConnected to ");
	report_puts(partner);
	report_puts(" but connection died. ");
	if (critical)
		report_puts("Possible duplicate! ");
	report_puts("(#4.4.2)\n");
	report_tls_exit('Z');
}

/* Say QUIT without waiting, and report: prepend partner append, the reply. */
static void __attribute__((__noreturn__))
quit(const char *prepend, const char *append)
{
	smtpc_puts(&smtp, "QUIT\r\n");
	report_puts(prepend);
	report_puts(partner);
	report_puts(append);
	report_puts(".\n");
	report_text(smtp.text, smtp.textlen);
	report_tls_exit(*prepend);
}

/*
 * A TLS failure where TLS is required: deferred, in the qmail-tls patch's
 * words ("...; connecting to IP." before the handshake, "connected" after),
 * never a fall back to plaintext.  QUIT is said unless a handshake was
 * left half done.
 */
enum tls_failure {
	FAIL_CONNECTING = 0x1,	/* before the handshake: "connecting to" */
	FAIL_NOQUIT = 0x2,	/* a handshake left half done: no QUIT */
	FAIL_REPLY = 0x4	/* quote the server's last reply */
};

static void __attribute__((__noreturn__))
tls_quit(const char *s1, const char *s2, int how)
{
	if (!(how & FAIL_NOQUIT))
		smtpc_puts(&smtp, "QUIT\r\n");
	report_puts("Z");
	report_puts(s1);
	if (s2 != NULL) {
		report_puts(": ");
		report_puts(s2);
	}
	report_puts(how & FAIL_CONNECTING ? "; connecting to " :
	    "; connected to ");
	report_puts(partner);
	report_puts(".\n");
	if (how & FAIL_REPLY)
		report_text(smtp.text, smtp.textlen);
	report_tls_exit('Z');
}

/*
 * No server was left, and some were passed over because DANE or MTA-STS
 * requires TLS of them and they could not give it (or, for MTA-STS, are
 * not in the policy): the message waits, and the report says which and
 * why.
 */
static void __attribute__((__noreturn__))
temp_skipped(void)
{
	report_puts("Z");
	report_puts(skipped);
	report_puts(" (#4.7.5)\n");
	report_tls_exit('Z');
}

/* ----------------------------------------------------------- the dialogue */

static int
code(void)
{
	int	 c;

	if ((c = smtpc_reply(&smtp)) == -1)
		dropped();
	return c;
}

/*
 * A 421 is the server closing the session (RFC 5321 section 3.8).  Where
 * qmail-remote would go on to another command (HELO after EHLO, the next
 * RCPT, plaintext after STARTTLS), that command would be lost on a closed
 * connection and the server's words with it: the attempt ends here, with
 * them.  At MAIL, DATA and after the message, qmail-remote's own texts
 * already defer with the reply.
 */
static void
closing(int c)
{
	if (c == 421)
		quit("ZConnected to ", " but it closed the session");
}

/*
 * Is a 5xx reply a verdict on the message?  Not when it is about TLS
 * and we went on without TLS after STARTTLS failed or was refused: a 530
 * ("Must issue a STARTTLS command first") or any 5.7.x status is then
 * about our connection.  The message waits for a better one.
 */
static int
permanent(int c)
{
	if (c < 500)
		return 0;
	if (tls.fellback && (c == 530 || (smtp.textlen >= 8 &&
	    strncmp(smtp.text + 4, "5.7.", 4) == 0)))
		return 0;
	return 1;
}

static void
put(const char *s)
{
	if (smtpc_puts(&smtp, s) == -1)
		dropped();
}

static void
command(const char *verb, const char *arg, const char *end)
{
	if (smtpc_puts(&smtp, verb) == -1 || smtpc_puts(&smtp, arg) == -1 ||
	    smtpc_puts(&smtp, end) == -1)
		dropped();
}

/*
 * The message (see blast.c), then the final ".": only once a last line
 * without an end is known not to be there, so that the server never
 * takes a truncated message.
 */
static void
send_message(void)
{
	switch (blast_send(0, &smtp)) {
	case BLAST_OK:
		break;
	case BLAST_READ_FAILED:
		temp_read();
	case BLAST_PARTIAL_LINE:
		perm_partialline();
	case BLAST_DIED:
		dropped();
	}
	critical = 1;
	put(".\r\n");
}

enum { DONE, RETRY_PLAIN, SKIP_SERVER };

/* How the session went on after starttls() */
enum secured {
	PLAINTEXT,		/* no TLS (see *retry) */
	ENCRYPTED,		/* TLS by chance: the certificate not judged */
	ENFORCED,		/* TLS the policy requires, judged by it */
	SKIPPED			/* DANE: TLS could not be had from this server */
};

/*
 * TLS failed where the policy requires it.  With tlshosts/<host>.pem the
 * message is deferred, in the qmail-tls patch's words (tls_quit).  With
 * DANE this server is not used and the next one is tried (RFC 7672
 * 2.2); why is kept, for the report if no server is left.
 */
static enum secured
tls_required_failed(const char *s1, const char *s2, int how)
{
	size_t	 n = strlen(skipped);

	if (pol.level == POLICY_VERIFY)
		tls_quit(s1, s2, how);
	if (!(how & FAIL_NOQUIT))
		smtpc_puts(&smtp, "QUIT\r\n");
	if (n < sizeof(skipped))
		snprintf(skipped + n, sizeof(skipped) - n, "%s%s%s%s; %s %s.",
		    n > 0 ? " " : "", s1, s2 != NULL ? ": " : "",
		    s2 != NULL ? s2 : "", how & FAIL_CONNECTING ?
		    "connecting to" : "connected to", partner);
	return SKIPPED;
}

/*
 * Why TLS is required, for a message about its failure: under a
 * tlshosts/<host>.pem the qmail-tls patch's words (pemfmt, with the
 * file), else what failed (e.g. "STARTTLS not offered by") and who
 * requires TLS.
 */
static const char *
required(char *buf, size_t len, const char *pemfmt, const char *what,
    const char *host)
{
	if (pol.level == POLICY_VERIFY)
		snprintf(buf, len, pemfmt, pol.file);
	else if (pol.level == POLICY_STS)
		snprintf(buf, len, "%s %s, which the MTA-STS policy of %s "
		    "requires TLS of", what, host, domain);
	else
		snprintf(buf, len, "%s %s, which publishes TLSA records", what,
		    host);
	return buf;
}

/* The CAs that MTA-STS trusts: control/mtastscafile, or libtls's. */
static const char *
sts_cafile(void)
{
	return ctl.stsca[0] != '\0' ? ctl.stsca : tls_default_ca_cert_file();
}

/* MTA-STS testing mode: what enforce mode would have refused. */
static void
sts_would_fail(const char *why)
{
	if (pol.sts_testing && tls.sts[0] == '\0')
		snprintf(tls.sts, sizeof(tls.sts), "MTA-STS testing: enforce "
		    "would have refused this: %.900s.", why);
}

/* STARTTLS failed or was refused: go on in plaintext, and say why. */
static void
fell_back(const char *what, const char *after_k, const char *after_z)
{
	snprintf(tls.line, sizeof(tls.line), "%s%s", what, after_k);
	snprintf(tls.problem, sizeof(tls.problem), "%s%s", what, after_z);
	tls.fellback = 1;
}

/* The handshake failed under the "may" policy: once more, in plaintext. */
static void
handshake_failed(const char *why)
{
	char	 what[512];

	snprintf(what, sizeof(what), "TLS handshake failed (%s)", why);
	fell_back(what, "; delivered without TLS.", "; tried again without "
	    "TLS.");
	tls_free(smtp.conn.tls);
	smtp.conn.tls = NULL;
}

/*
 * After the handshake: the server's certificate judged as the policy
 * says, and the line that says how the message leaves.
 */
static enum secured
judge(struct tls *ctx, const char *host)
{
	const struct tlsa	*m;
	const uint8_t		*chain;
	size_t			 chainlen;
	char			 msg[2 * PATH_MAX + 512], why[PATH_MAX + 64];

	chain = tls_peer_cert_chain_pem(ctx, &chainlen);
	if ((pol.level == POLICY_STS || pol.sts_testing) &&
	    certid_server(chain, chainlen, sts_cafile(), host, why,
	    sizeof(why)) == -1) {
		if (pol.level == POLICY_STS) {
			snprintf(msg, sizeof(msg), "MTA-STS policy of %s: %s",
			    domain, why);
			return tls_required_failed(msg, NULL, 0);
		}
		sts_would_fail(why);
	}
	if (pol.level == POLICY_VERIFY && certid_server(chain, chainlen,
	    pol.file, host, msg, sizeof(msg)) == -1)
		tls_quit(msg, NULL, 0);
	if (pol.level == POLICY_DANE && certid_dane(&pol.tlsa, chain,
	    chainlen, host, &m, msg, sizeof(msg)) == -1)
		return tls_required_failed(msg, NULL, 0);
	if (pol.level == POLICY_DANE)
		snprintf(msg, sizeof(msg), "DANE verified: TLSA %u %u %u of "
		    "%s matched", m->usage, m->selector, m->mtype, host);
	else if (pol.level == POLICY_DANE_ENCRYPT)
		snprintf(msg, sizeof(msg), "server certificate not verified: "
		    "no usable TLSA record of %s", host);
	else if (pol.level == POLICY_STS)
		snprintf(msg, sizeof(msg), "MTA-STS enforce, certificate "
		    "verified");
	else
		snprintf(msg, sizeof(msg), "server certificate %s",
		    pol.level == POLICY_VERIFY ? "verified" : "not verified");
	snprintf(tls.line, sizeof(tls.line), "TLS %s with %s, %.1024s.",
	    tls_conn_version(ctx), tls_conn_cipher(ctx), msg);
	return pol.level == POLICY_MAY ? ENCRYPTED : ENFORCED;
}

/*
 * STARTTLS, as the policy for this MX host says (policy_lookup, done
 * before connecting).  Sets *retry when a handshake failed under the
 * "may" policy, so the caller connects once more and delivers without
 * TLS.
 */
static enum secured
starttls(const struct dns_addr *d, int esmtp, int *retry)
{
	char			 err[512], msg[PATH_MAX + 64];
	struct tls		*ctx;
	struct tls_config	*cfg;
	FILE			*f;
	int			 r, strict = policy_tls_required(pol.level);

	if (pol.level == POLICY_NONE) {
		snprintf(tls.line, sizeof(tls.line), "No TLS: not tried, as "
		    "%s says.", pol.file);
		return PLAINTEXT;
	}
	if (!esmtp || !smtpc_keyword(&smtp, "STARTTLS")) {
		if (strict)
			return tls_required_failed(required(msg, sizeof(msg),
			    "No TLS achieved while %s exists",
			    "STARTTLS not offered by", d->host), NULL,
			    FAIL_CONNECTING);
		sts_would_fail("STARTTLS not offered");
		snprintf(tls.line, sizeof(tls.line), "No TLS: the server did "
		    "not offer STARTTLS.");
		return PLAINTEXT;
	}
	if (pol.level == POLICY_VERIFY) {
		if ((f = fopen(pol.file, "r")) == NULL) {
			snprintf(msg, sizeof(msg), "TLS unable to load %s",
			    pol.file);
			tls_quit(msg, strerror(errno), FAIL_CONNECTING);
		}
		fclose(f);
	}
	/* a local file we cannot use costs a client certificate, never TLS */
	if ((ctx = tlsconf_client(CONTROL, &cfg, err, sizeof(err), tls.note,
	    sizeof(tls.note))) == NULL)
		tls_quit("TLS error initializing ctx", err, FAIL_CONNECTING);
	put("STARTTLS\r\n");
	closing(r = code());
	if (r != 220) {
		tlsconf_client_done(cfg);
		tls_free(ctx);
		if (strict)
			return tls_required_failed(required(msg, sizeof(msg),
			    "STARTTLS rejected while %s exists",
			    "STARTTLS rejected by", d->host), NULL,
			    FAIL_CONNECTING | FAIL_REPLY);
		sts_would_fail("STARTTLS refused");
		snprintf(msg, sizeof(msg), "No TLS: STARTTLS was refused with "
		    "%d.", r);
		fell_back(msg, "", "");
		return PLAINTEXT;
	}
	/* replies sent after the 220 and before TLS are injection */
	smtpc_discard(&smtp);
	r = conn_connect(&smtp.conn, ctx, d->host[0] == '[' ? NULL : d->host,
	    io_now() + ctl.timeout * 1000);
	tlsconf_client_done(cfg);	/* the key is in OpenSSL's hands now */
	if (r != 0) {
		snprintf(err, sizeof(err), "%s", r == CONN_TIMEOUT ? "timed out" :
		    conn_error(&smtp.conn));
		if (strict)
			return tls_required_failed("TLS connect failed", err,
			    FAIL_NOQUIT);
		sts_would_fail("TLS handshake failed");
		handshake_failed(err);
		*retry = 1;
		return PLAINTEXT;
	}
	return judge(ctx, d->host);
}

/*
 * EHLO again inside TLS.  With TLS 1.3 a server that refuses our client
 * certificate says so only now, after the handshake: a connection that
 * dies here is a failed handshake, not a dropped session.  A server that
 * answers with a reply says why, and is taken at its word (code()).
 */
static int
ehlo_tls(int strict)
{
	const char	*e;
	int		 c;

	if (smtpc_puts(&smtp, "EHLO ") == -1 ||
	    smtpc_puts(&smtp, ctl.helohost) == -1 ||
	    smtpc_puts(&smtp, "\r\n") == -1 || (c = smtpc_reply(&smtp)) == -1) {
		e = conn_error(&smtp.conn);
		if (strict) {
			tls_required_failed("TLS connect failed", e, FAIL_NOQUIT);
			return SKIP_SERVER;
		}
		handshake_failed(e);
		return RETRY_PLAIN;
	}
	closing(c);
	if (c != 250) {
		command("HELO ", ctl.helohost, "\r\n");
		if (code() != 250)
			quit("ZConnected to ", " but my name was rejected");
	}
	return DONE;
}

static int
session(const struct dns_addr *d, int fd, int usetls)
{
	int	 c, esmtp, secure, next, retry = 0, any = 0;
	char	**r;

	smtpc_init(&smtp, fd, (int)ctl.timeout * 1000);
	if ((c = smtpc_reply(&smtp)) == -1)
		dropped();
	if (c != 220)
		quit("ZConnected to ", " but greeting failed");
	command("EHLO ", ctl.helohost, "\r\n");
	closing(c = code());
	esmtp = c == 250;
	if (!esmtp) {
		command("HELO ", ctl.helohost, "\r\n");
		if (code() != 250)
			quit("ZConnected to ", " but my name was rejected");
	}
	if (usetls && (secure = starttls(d, esmtp, &retry)) == SKIPPED)
		return SKIP_SERVER;
	if (usetls && secure != PLAINTEXT &&
	    (next = ehlo_tls(secure == ENFORCED)) != DONE)
		return next;
	if (retry)
		return RETRY_PLAIN;
	/*
	 * Connected for good and TLS settled: from here on only the message
	 * moves (fd 0 to the server, the report to fd 1).  There is no fd 2
	 * to complain on; without the filter we deliver all the same.
	 */
	(void)sandbox_relay(NULL, 0);

	command("MAIL FROM:<", sender, ">\r\n");
	c = code();
	if (permanent(c))
		quit("DConnected to ", " but sender was rejected");
	if (c >= 400)
		quit("ZConnected to ", " but sender was rejected");
	for (r = recips; *r != NULL; r++) {
		command("RCPT TO:<", *r, ">\r\n");
		closing(c = code());
		if (c >= 400) {
			report_puts(permanent(c) ? "h" : "s");
			report_puts(partner);
			report_puts(" does not like recipient.\n");
			report_text(smtp.text, smtp.textlen);
			smtp.textlen = 0;	/* told once, as qmail-remote */
			report_end();
		} else {
			report_puts("r");
			report_end();
			any = 1;
		}
	}
	if (!any)
		quit("DGiving up on ", "");
	put("DATA\r\n");
	c = code();
	if (permanent(c))
		quit("D", " failed on DATA command");
	if (c >= 400)
		quit("Z", " failed on DATA command");
	send_message();
	c = code();
	critical = 0;
	if (permanent(c))
		quit("D", " failed after I sent the message");
	if (c >= 400)
		quit("Z", " failed after I sent the message");
	quit("K", " accepted message");
}

/* ------------------------------------------------------------- set-up */

static int
connect_to(const struct dns_addr *d, int port, int *timedout)
{
	int	 fd;

	fd = dns_connect(d, port, io_now() + ctl.timeoutconnect * 1000,
	    timedout);
	if (fd == DNS_NOSOCKET && errno != EAFNOSUPPORT)
		temp_oserr();
	return fd < 0 ? -1 : fd;
}



static void
getcontrols(void)
{
	char	 me[256];
	int	 r;

	if ((r = control_readline(CONTROL, "me", me, sizeof(me))) == -1)
		temp_control();
	if (r == 0)
		me[0] = '\0';
	r = control_readline(CONTROL, "helohost", ctl.helohost,
	    sizeof(ctl.helohost));
	if (r == -1 || (r == 0 && me[0] == '\0'))
		temp_control();
	if (r == 0)
		strcpy(ctl.helohost, me);
	if (control_readint(CONTROL, "timeoutremote", &ctl.timeout) == -1 ||
	    control_readint(CONTROL, "timeoutconnect",
	    &ctl.timeoutconnect) == -1 ||
	    control_readfile(CONTROL, "smtproutes", &ctl.routes,
	    &ctl.routeslen) == -1)
		temp_control();
	ctl.dane = access(CONTROL "/nodane", F_OK) != 0;
	ctl.mtasts = access(CONTROL "/nomtasts", F_OK) != 0;
	if ((r = control_readline(CONTROL, "mtastsdir", ctl.stsdir,
	    sizeof(ctl.stsdir))) == -1 || (control_readline(CONTROL,
	    "mtastscafile", ctl.stsca, sizeof(ctl.stsca))) == -1)
		temp_control();
	if (r == 0)
		snprintf(ctl.stsdir, sizeof(ctl.stsdir), "queue/mta-sts");
	if (ctl.timeout < 1)
		ctl.timeout = 1;
	if (ctl.timeoutconnect < 1)
		ctl.timeoutconnect = 1;
}

/*
 * Is DANE on, and can it ever apply: does the resolver a delivery would
 * ask have its DNSSEC answers trusted?
 */
static void
check_dane(struct confcheck *c, const char *dir)
{
	char	 path[PATH_MAX], resolver[64];

	if (control_path(path, sizeof(path), dir, "nodane") == 0 &&
	    access(path, F_OK) == 0)
		confcheck_say(c, "nodane", CHECK_OK, "DANE is off");
	else if (dns_init(1) == -1)
		confcheck_say(c, "nodane", CHECK_ERROR, "absent, so DANE is "
		    "on, but the resolver cannot be set up: see $DNSCACHEIP "
		    "and /etc/resolv.conf");
	else if (dns_trusted(resolver, sizeof(resolver)))
		confcheck_say(c, "nodane", CHECK_OK, "absent, so DANE is on: "
		    "the resolver %s is trusted to validate", resolver);
	else
		confcheck_say(c, "nodane", CHECK_WARNING, "absent, but DANE "
		    "never applies: the resolver %s is not on this host, and "
		    "/etc/resolv.conf does not trust it (options trust-ad)",
		    resolver);
}

/*
 * Is MTA-STS on, can its policies be cached (a directory this user can
 * write), and which CAs vouch for policy hosts and MX hosts?
 */
static void
check_sts(struct confcheck *c, const char *home, const char *dir)
{
	char	 path[PATH_MAX], line[PATH_MAX], cache[2 * PATH_MAX];
	int	 r;

	if (control_path(path, sizeof(path), dir, "nomtasts") == 0 &&
	    access(path, F_OK) == 0) {
		confcheck_say(c, "nomtasts", CHECK_OK, "MTA-STS is off");
		return;
	}
	if ((r = control_readline(dir, "mtastsdir", line, sizeof(line))) == -1)
		confcheck_say(c, "mtastsdir", CHECK_UNCHECKED, "unable to read: "
		    "%s", strerror(errno));
	snprintf(cache, sizeof(cache), "%s/%s", r > 0 && line[0] == '/' ? "" :
	    home, r > 0 ? line : "queue/mta-sts");
	if (access(cache, F_OK) == -1)
		confcheck_say(c, "mtastsdir", CHECK_WARNING, "no %s: MTA-STS "
		    "policies are fetched for every delivery; make it, "
		    "writable by qmailr", cache);
	else if (access(cache, W_OK | X_OK) == -1)
		confcheck_say(c, "mtastsdir", CHECK_WARNING, "%s is not "
		    "writable by this user: %s", cache, strerror(errno));
	else
		confcheck_say(c, "mtastsdir", CHECK_OK, "MTA-STS policies are "
		    "cached in %s", cache);
	if ((r = control_readline(dir, "mtastscafile", line,
	    sizeof(line))) == -1)
		confcheck_say(c, "mtastscafile", CHECK_UNCHECKED, "unable to "
		    "read: %s", strerror(errno));
	else
		confcheck_cafile(c, "mtastscafile", r > 0 ? line :
		    tls_default_ca_cert_file());
}

/*
 * starttls-remote -C: its control files checked as a delivery reads them
 * (confcheck.h), one line each on stdout; run by hand, never by qmail.
 */
static int
check(const char *home)
{
	struct confcheck	 c;
	char			 dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", home, CONTROL);
	confcheck_init(&c, dir);
	confcheck_keypair(&c, "clientcert.pem", NULL, CHECK_OPTIONAL);
	confcheck_ciphers(&c, "tlsclientciphers", NULL);
	confcheck_tlshosts(&c);
	check_dane(&c, dir);
	check_sts(&c, home, dir);
	return confcheck_status(&c);
}

/*
 * The servers to try, in list, best first: the MX hosts of domain (or
 * the smtproutes relay), as qmail-remote finds them; and the domain's
 * MTA-STS policy.  Returns the
 * preference at which our own addresses start: servers at or behind it
 * are not tried.
 */
static unsigned int
servers(struct dns_list *list, int *port)
{
	const char	*relay;
	char		 routebuf[256];
	unsigned int	 prefme = 100000;
	size_t		 i;
	int		 r;

	relay = route_find(ctl.routes, ctl.routeslen, domain, routebuf,
	    sizeof(routebuf), port) ? routebuf : NULL;
	if (dns_init(ctl.dane) == -1)
		temp_dns();
	r = relay != NULL ? dns_ip(relay, list, 0, 1) :
	    dns_mx(domain, list, (unsigned long)time(NULL) +
	    ((unsigned long)getpid() << 16));
	if (r == DNS_SOFT)
		temp_dns();
	if (r == DNS_HARD)
		perm_dns(relay != NULL ? relay : domain);
	if (r == DNS_NULLMX || list->n == 0)
		perm_nomx();
	/* a route the administrator set overrides MTA-STS */
	if (relay == NULL && ctl.mtasts)
		have_sts = sts_policy_for(domain, ctl.stsdir, ctl.stsca[0] !=
		    '\0' ? ctl.stsca : NULL, &sts, tls.sts, sizeof(tls.sts));

	for (i = 0; i < list->n; i++) {
		if ((r = ipme_is((struct sockaddr *)&list->a[i].sa)) == -1)
			temp_oserr();
		if (r && list->a[i].pref < prefme)
			prefme = list->a[i].pref;
	}
	if (relay != NULL)
		prefme = 300000;
	for (i = 0; i < list->n; i++)
		if (list->a[i].pref < prefme)
			return prefme;
	perm_ambigmx();
}

/*
 * One server: its TLS policy (looked up before connecting, for DANE),
 * then the session; returns only if the next server is to be tried.
 */
static void
try_server(const struct dns_addr *d, int port)
{
	char	 why[2 * DNS_MAXHOST + 64];
	int	 fd, timedout;

	dns_fmt(d, partner, sizeof(partner));
	policy_lookup(CONTROL, d, port, ctl.dane, have_sts ? &sts : NULL, &pol);
	if (pol.level == POLICY_DANE_FAILED) {
		snprintf(why, sizeof(why), "TLSA lookup failed for %s", d->host);
		tls_required_failed(why, NULL, FAIL_CONNECTING | FAIL_NOQUIT);
		return;
	}
	if (pol.level == POLICY_STS_NOMATCH || (pol.sts_testing &&
	    !pol.sts_listed)) {
		snprintf(why, sizeof(why), "%s is not an MX host of the MTA-STS "
		    "policy of %s", d->host, domain);
		if (pol.level == POLICY_STS_NOMATCH) {
			tls_required_failed(why, NULL, FAIL_CONNECTING | FAIL_NOQUIT);
			return;
		}
		sts_would_fail(why);
	}
	if ((fd = connect_to(d, port, &timedout)) == -1) {
		tcpto_note((struct sockaddr *)&d->sa, timedout, time(NULL));
		return;
	}
	tcpto_note((struct sockaddr *)&d->sa, 0, time(NULL));
	switch (session(d, fd, 1)) {
	case RETRY_PLAIN:
		/* once more, without TLS, to the same server */
		close(fd);
		if ((fd = connect_to(d, port, &timedout)) == -1)
			temp_noconn();
		session(d, fd, 0);
		break;
	case SKIP_SERVER:
		close(fd);
		break;
	}
}

int
main(int argc, char *argv[])
{
	static struct dns_list	 list;
	const char		*home;
	unsigned int		 prefme;
	size_t			 i;
	int			 port = 25;

	signal(SIGPIPE, SIG_IGN);
	if ((home = getenv("STARTTLS_QMAILHOME")) == NULL || *home == '\0')
		home = QMAILHOME;
	if (argc == 2 && strcmp(argv[1], "-C") == 0)
		return check(home);
	if (argc < 4)
		perm_usage();
	if (chdir(home) == -1)
		temp_chdir();
	getcontrols();
	sender = argv[2];
	recips = argv + 3;

	domain = argv[1];
	prefme = servers(&list, &port);
	for (i = 0; i < list.n; i++)
		if (list.a[i].pref < prefme &&
		    !tcpto_skip((struct sockaddr *)&list.a[i].sa, time(NULL)))
			try_server(&list.a[i], port);
	if (skipped[0] != '\0')
		temp_skipped();
	temp_noconn();
}
