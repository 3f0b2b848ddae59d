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
 *
 * The flow: find the servers (smtproutes, else the MX hosts), find the
 * destination's rule (tlsdestinations, else MTA-STS), then for each
 * server its verdict (policy.c), which the dialogue only carries out.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "blast.h"
#include "dane.h"
#include "check.h"
#include "control.h"
#include "dns.h"
#include "io.h"
#include "ipme.h"
#include "mxname.h"
#include "policy.h"
#include "report.h"
#include "route.h"
#include "sandbox.h"
#include "servercert.h"
#include "smtpc.h"
#include "sts.h"
#include "stsfetch.h"
#include "tcpto.h"
#include "tlsconf.h"
#include "tlsdest.h"

#ifndef QMAILHOME
#define QMAILHOME	"/var/qmail"
#endif

#define CONTROL		"control"

/* The control files, as read once per delivery */
struct control {
	char		 helohost[256];
	long		 timeout;	/* seconds, each read or write */
	long		 timeoutconnect;
	char		*routes;
	size_t		 routeslen;
	char		*tlsdest;	/* control/tlsdestinations */
	size_t		 tlsdestlen;
	int		 dane;		/* no control/nodane */
	int		 mtasts;	/* no control/nomtasts */
	char		 stsdir[PATH_MAX];	/* the MTA-STS cache */
	char		 stsca[PATH_MAX];	/* its CA bundle; "": libtls's */
};

/* What TLS did in this delivery, for the last lines of the report */
struct tls_report {
	char	 line[PATH_MAX + 128];	/* for K: "TLS TLSv1.3 with ..." */
	char	 problem[PATH_MAX + 128]; /* for Z and D: what failed */
	int	 fellback;	/* plaintext after STARTTLS failed or was refused */
	char	 note[640];	/* "control/clientcert.pem not used: ..." */
	char	 sts[1024];	/* MTA-STS: a fetch that failed, testing mode */
	char	 skipped[1024];	/* servers the verdicts refused, and why */
};

/* One delivery: argv, the servers, the rule, and the server being tried */
struct delivery {
	struct control		 ctl;
	const char		*domain;	/* argv[1], the recipients' */
	const char		*sender;
	char			**recips;
	char			 relay[256];	/* from smtproutes, or "" */
	int			 port;
	struct dns_list		 servers;
	unsigned int		 prefme;	/* ours from this preference on */

	const char		*policy_domain;	/* domain, or the relay */
	struct tlsdest		 local;
	struct sts_policy	 sts;
	struct domain_rule	 rule;

	const struct dns_addr	*server;	/* being tried */
	char			 partner[64];	/* its address, as text */
	struct mx_facts		 facts;
	struct verdict		 verdict;
	struct smtpc		 smtp;
	int			 critical;	/* the final "." was sent */
	struct tls_report	 tls;
};

/* How an attempt at one server ended, when it did not end the delivery */
enum outcome {
	OUTCOME_GO_ON,		/* TLS as the verdict asks: on to MAIL */
	OUTCOME_NEXT_SERVER,	/* it cannot give what the verdict asks */
	OUTCOME_PLAIN_AGAIN	/* STARTTLS failed where TLS was optional */
};

/* What went wrong with TLS, for tls_failed() */
enum tls_failure {
	TLSF_NOT_ALLOWED,	/* the rule does not allow this MX host */
	TLSF_NOT_OFFERED,	/* no STARTTLS in the EHLO reply */
	TLSF_REFUSED,		/* STARTTLS answered with other than 220 */
	TLSF_HANDSHAKE,		/* the handshake, or the EHLO inside it */
	TLSF_CERTIFICATE	/* the certificate is not what the verdict asks */
};

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

/* A tlsdestinations line that cannot be read: its mail waits. */
static void __attribute__((__noreturn__))
temp_tlsdest(const struct tlsdest *t)
{
	char	 buf[512];

	snprintf(buf, sizeof(buf), "ZUnable to use control/tlsdestinations "
	    "line %d, the rule for %s: %s. (#4.3.0)\n", t->line, t->dest,
	    t->error);
	die(buf);
}

/*
 * The TLS lines that end a report: for K how the message left; for Z
 * and D the TLS failure the delivery went on from, or the TLS it had (a
 * server may refuse what it learnt in the handshake); for all, what
 * MTA-STS had to say and the local files that were not used.
 */
static void __attribute__((__noreturn__))
report_tls_exit(struct delivery *d, int letter)
{
	const char	*line = d->tls.line;

	if (letter != 'K' && d->tls.problem[0] != '\0')
		line = d->tls.problem;
	else if (letter != 'K' && d->smtp.conn.tls == NULL)
		line = "";
	if (line[0] != '\0') {
		report_puts(line);
		report_puts("\n");
	}
	if (d->tls.sts[0] != '\0') {
		report_puts(d->tls.sts);
		report_puts("\n");
	}
	if (d->tls.note[0] != '\0') {
		report_puts(d->tls.note);
		report_puts("\n");
	}
	report_exit();
}

static void __attribute__((__noreturn__))
dropped(struct delivery *d)
{
	report_puts("ZConnected to ");
	report_puts(d->partner);
	report_puts(" but connection died. ");
	if (d->critical)
		report_puts("Possible duplicate! ");
	report_puts("(#4.4.2)\n");
	report_tls_exit(d, 'Z');
}

/* Say QUIT without waiting, and report: prepend partner append, the reply. */
static void __attribute__((__noreturn__))
quit(struct delivery *d, const char *prepend, const char *append)
{
	smtpc_puts(&d->smtp, "QUIT\r\n");
	report_puts(prepend);
	report_puts(d->partner);
	report_puts(append);
	report_puts(".\n");
	report_text(d->smtp.text, d->smtp.textlen);
	report_tls_exit(d, *prepend);
}

/*
 * No server was left, and some were passed over because their verdict
 * asked for TLS they could not give (or refused them outright): the
 * message waits, and the report says which and why.
 */
static void __attribute__((__noreturn__))
temp_skipped(struct delivery *d)
{
	report_puts("Z");
	report_puts(d->tls.skipped);
	report_puts(" (#4.7.5)\n");
	report_tls_exit(d, 'Z');
}

/* ----------------------------------------------- TLS failures, in words */

/* MTA-STS testing mode: what enforce mode would have refused. */
static void
sts_would_refuse(struct delivery *d, const char *why)
{
	if (d->verdict.testing && d->tls.sts[0] == '\0')
		snprintf(d->tls.sts, sizeof(d->tls.sts), "MTA-STS testing: "
		    "enforce would have refused this: %.900s.", why);
}

/* Who requires TLS of this server, for "STARTTLS not offered by H, ..." */
static void
who_requires(const struct delivery *d, char *buf, size_t len)
{
	const char	*host = d->server->host;

	switch (d->verdict.by) {
	case BY_STS:
		snprintf(buf, len, "%s, which the MTA-STS policy of %s requires "
		    "TLS of", host, d->policy_domain);
		break;
	case BY_LOCAL:
		snprintf(buf, len, "%s, which control/tlsdestinations line %d "
		    "requires TLS of", host, d->local.line);
		break;
	default:
		snprintf(buf, len, "%s, which publishes TLSA records", host);
		break;
	}
}

/* Why the verdict refused this server before connecting. */
static void
why_not_allowed(const struct delivery *d, char *buf, size_t len)
{
	const char	*host = d->server->host;

	if (d->verdict.by == BY_TLSA)
		snprintf(buf, len, "TLSA lookup failed for %s", host);
	else if (d->verdict.by == BY_STS)
		snprintf(buf, len, "%s is not an MX host of the MTA-STS policy "
		    "of %s", host, d->policy_domain);
	else if (d->local.level == TLSDEST_DANE)
		snprintf(buf, len, "%s has no usable TLSA records, which "
		    "control/tlsdestinations line %d requires", host,
		    d->local.line);
	else
		snprintf(buf, len, "%s is not an MX host that control/"
		    "tlsdestinations line %d allows for %s", host,
		    d->local.line, d->policy_domain);
}

/* How tls_defer() ends the attempt */
enum defer_how {
	DEFER_CONNECTING = 0x1,	/* before the handshake: "connecting to" */
	DEFER_NOQUIT = 0x2,	/* a handshake left half done: no QUIT */
	DEFER_QUOTE = 0x4	/* quote the server's last reply */
};

/*
 * A TLS failure that ends the delivery: deferred, in the qmail-tls
 * patch's words ("...; connecting to IP." before the handshake,
 * "connected to" after), never sent elsewhere or in plaintext.
 */
static void __attribute__((__noreturn__))
tls_defer(struct delivery *d, const char *text, int how)
{
	if (!(how & DEFER_NOQUIT))
		smtpc_puts(&d->smtp, "QUIT\r\n");
	report_puts("Z");
	report_puts(text);
	report_puts(how & DEFER_CONNECTING ? "; connecting to " :
	    "; connected to ");
	report_puts(d->partner);
	report_puts(".\n");
	if (how & DEFER_QUOTE)
		report_text(d->smtp.text, d->smtp.textlen);
	report_tls_exit(d, 'Z');
}

/* Under tlshosts/<host>.pem: the patch's words, and deferred now. */
static void __attribute__((__noreturn__))
pem_failed(struct delivery *d, enum tls_failure what, const char *detail)
{
	char	 msg[PATH_MAX + 600];

	switch (what) {
	case TLSF_NOT_OFFERED:
		snprintf(msg, sizeof(msg), "No TLS achieved while %s exists",
		    d->facts.pem);
		tls_defer(d, msg, DEFER_CONNECTING);
	case TLSF_REFUSED:
		snprintf(msg, sizeof(msg), "STARTTLS rejected while %s exists",
		    d->facts.pem);
		tls_defer(d, msg, DEFER_CONNECTING | DEFER_QUOTE);
	case TLSF_HANDSHAKE:
		snprintf(msg, sizeof(msg), "TLS connect failed: %s", detail);
		tls_defer(d, msg, DEFER_NOQUIT);
	default:
		tls_defer(d, detail, 0);
	}
}

/* STARTTLS failed where TLS was optional: plaintext, and say why. */
static enum outcome
fell_back(struct delivery *d, enum tls_failure what, int code,
    const char *detail)
{
	char	 msg[600];

	switch (what) {
	case TLSF_NOT_OFFERED:
		sts_would_refuse(d, "STARTTLS not offered");
		snprintf(d->tls.line, sizeof(d->tls.line), "No TLS: the server "
		    "did not offer STARTTLS.");
		return OUTCOME_GO_ON;
	case TLSF_REFUSED:
		sts_would_refuse(d, "STARTTLS refused");
		snprintf(msg, sizeof(msg), "No TLS: STARTTLS was refused with "
		    "%d.", code);
		snprintf(d->tls.line, sizeof(d->tls.line), "%s", msg);
		snprintf(d->tls.problem, sizeof(d->tls.problem), "%s", msg);
		d->tls.fellback = 1;
		return OUTCOME_GO_ON;
	default:
		sts_would_refuse(d, "TLS handshake failed");
		snprintf(d->tls.line, sizeof(d->tls.line), "TLS handshake "
		    "failed (%.500s); delivered without TLS.", detail);
		snprintf(d->tls.problem, sizeof(d->tls.problem), "TLS handshake "
		    "failed (%.500s); tried again without TLS.", detail);
		d->tls.fellback = 1;
		tls_free(d->smtp.conn.tls);
		d->smtp.conn.tls = NULL;
		return OUTCOME_PLAIN_AGAIN;
	}
}

/*
 * Every TLS failure, in one place, as the verdict says: under "may",
 * plaintext; under tlshosts/<host>.pem, deferred now in the patch's
 * words; under any other rule this server is not used and the next one
 * is tried (RFC 7672 2.2, RFC 8461 5), the reason kept for the report if
 * none is left.  code is the reply to STARTTLS for TLSF_REFUSED.
 */
static enum outcome
tls_failed(struct delivery *d, enum tls_failure what, int code,
    const char *detail)
{
	char	 why[900], who[600];
	size_t	 n = strlen(d->tls.skipped);

	if (d->verdict.tls == VERDICT_MAY)
		return fell_back(d, what, code, detail);
	if (d->verdict.tls == VERDICT_PEM)
		pem_failed(d, what, detail);
	who_requires(d, who, sizeof(who));
	switch (what) {
	case TLSF_NOT_ALLOWED:
		why_not_allowed(d, why, sizeof(why));
		break;
	case TLSF_NOT_OFFERED:
		snprintf(why, sizeof(why), "STARTTLS not offered by %s", who);
		break;
	case TLSF_REFUSED:
		snprintf(why, sizeof(why), "STARTTLS rejected by %s", who);
		break;
	case TLSF_HANDSHAKE:
		snprintf(why, sizeof(why), "TLS connect failed: %s", detail);
		break;
	case TLSF_CERTIFICATE:
		snprintf(why, sizeof(why), "%s", detail);
		break;
	}
	if (what != TLSF_NOT_ALLOWED && what != TLSF_HANDSHAKE)
		smtpc_puts(&d->smtp, "QUIT\r\n");
	if (n < sizeof(d->tls.skipped))
		snprintf(d->tls.skipped + n, sizeof(d->tls.skipped) - n,
		    "%s%s; %s %s.", n > 0 ? " " : "", why, what ==
		    TLSF_NOT_ALLOWED || what == TLSF_NOT_OFFERED || what ==
		    TLSF_REFUSED ? "connecting to" : "connected to",
		    d->partner);
	return OUTCOME_NEXT_SERVER;
}

/* ----------------------------------------------------------- the dialogue */

/* The server's reply code; a dead connection ends the delivery. */
static int
reply_code(struct delivery *d)
{
	int	 c;

	if ((c = smtpc_reply(&d->smtp)) == -1)
		dropped(d);
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
end_if_closing(struct delivery *d, int c)
{
	if (c == 421)
		quit(d, "ZConnected to ", " but it closed the session");
}

/*
 * Is a 5xx reply a verdict on the message?  Not when it is about TLS
 * and we went on without TLS after STARTTLS failed or was refused: a 530
 * ("Must issue a STARTTLS command first") or any 5.7.x status is then
 * about our connection.  The message waits for a better one.
 */
static int
permanent(const struct delivery *d, int c)
{
	if (c < 500)
		return 0;
	if (d->tls.fellback && (c == 530 || (d->smtp.textlen >= 8 &&
	    strncmp(d->smtp.text + 4, "5.7.", 4) == 0)))
		return 0;
	return 1;
}

static void
command(struct delivery *d, const char *verb, const char *arg,
    const char *end)
{
	if (smtpc_puts(&d->smtp, verb) == -1 ||
	    smtpc_puts(&d->smtp, arg) == -1 || smtpc_puts(&d->smtp, end) == -1)
		dropped(d);
}

/*
 * The message (see blast.c), then the final ".": only once a last line
 * without an end is known not to be there, so that the server never
 * takes a truncated message.
 */
static void
send_message(struct delivery *d)
{
	switch (blast_send(0, &d->smtp)) {
	case BLAST_OK:
		break;
	case BLAST_READ_FAILED:
		temp_read();
	case BLAST_PARTIAL_LINE:
		perm_partialline();
	case BLAST_DIED:
		dropped(d);
	}
	d->critical = 1;
	command(d, ".", "", "\r\n");
}

/* The CAs a VERDICT_CAFILE certificate must chain to. */
static const char *
rule_cafile(const struct delivery *d)
{
	if (d->verdict.by == BY_LOCAL && d->local.cafile[0] != '\0')
		return d->local.cafile;
	if (d->verdict.by == BY_STS && d->ctl.stsca[0] != '\0')
		return d->ctl.stsca;
	return tls_default_ca_cert_file();
}

/*
 * Does the server's chain give what the verdict asks?  0 with how it was
 * judged in msg, or -1 with why not.
 */
static int
certificate_ok(struct delivery *d, const uint8_t *chain, size_t len,
    char *msg, size_t msglen)
{
	const struct tlsa	*m;
	const char		*host = d->server->host;
	char			 why[PATH_MAX + 300];

	switch (d->verdict.tls) {
	case VERDICT_CAFILE:
		if (servercert_verify(chain, len, rule_cafile(d), host,
		    SERVERCERT_NAME_SAN, why, sizeof(why)) == -1) {
			if (d->verdict.by == BY_STS)
				snprintf(msg, msglen, "MTA-STS policy of %s: %s",
				    d->policy_domain, why);
			else
				snprintf(msg, msglen, "control/tlsdestinations "
				    "line %d: %s", d->local.line, why);
			return -1;
		}
		if (d->verdict.by == BY_STS)
			snprintf(msg, msglen, "MTA-STS enforce, certificate "
			    "verified");
		else
			snprintf(msg, msglen, "certificate verified, as control/"
			    "tlsdestinations line %d requires", d->local.line);
		return 0;
	case VERDICT_PEM:
		if (servercert_verify(chain, len, d->facts.pem, host,
		    SERVERCERT_NAME_SAN_OR_CN, msg, msglen) == -1)
			return -1;
		snprintf(msg, msglen, "server certificate verified");
		return 0;
	case VERDICT_DANE:
		if (dane_match(&d->facts.tlsa, chain, len, host, &m, msg,
		    msglen) == -1)
			return -1;
		snprintf(msg, msglen, "DANE verified: TLSA %u %u %u of %s "
		    "matched", m->usage, m->selector, m->mtype, host);
		return 0;
	case VERDICT_ENCRYPT:
		if (d->verdict.by == BY_TLSA)
			snprintf(msg, msglen, "server certificate not verified: "
			    "no usable TLSA record of %s", host);
		else
			snprintf(msg, msglen, "server certificate not verified, "
			    "as control/tlsdestinations line %d allows",
			    d->local.line);
		return 0;
	default:
		snprintf(msg, msglen, "server certificate not verified");
		return 0;
	}
}

/*
 * After the handshake: the server's certificate judged as the verdict
 * says (and, in MTA-STS testing mode, as enforce would), and the line
 * that says how the message leaves.
 */
static enum outcome
judge(struct delivery *d, struct tls *ctx)
{
	const uint8_t	*chain;
	char		 msg[2 * PATH_MAX + 512];
	size_t		 len;

	chain = tls_peer_cert_chain_pem(ctx, &len);
	if (d->verdict.testing && servercert_verify(chain, len, rule_cafile(d),
	    d->server->host, SERVERCERT_NAME_SAN, msg, sizeof(msg)) == -1)
		sts_would_refuse(d, msg);
	if (certificate_ok(d, chain, len, msg, sizeof(msg)) == -1)
		return tls_failed(d, TLSF_CERTIFICATE, 0, msg);
	snprintf(d->tls.line, sizeof(d->tls.line), "TLS %s with %s, %.1024s.",
	    tls_conn_version(ctx), tls_conn_cipher(ctx), msg);
	return OUTCOME_GO_ON;
}

/*
 * STARTTLS and the handshake, as the verdict asks (esmtp: the server
 * answered EHLO), then the certificate judged.
 */
static enum outcome
starttls(struct delivery *d, int esmtp)
{
	char			 err[512], msg[PATH_MAX + 64];
	struct tls		*ctx;
	struct tls_config	*cfg;
	FILE			*f;
	int			 r;

	if (!esmtp || !smtpc_keyword(&d->smtp, "STARTTLS"))
		return tls_failed(d, TLSF_NOT_OFFERED, 0, NULL);
	if (d->verdict.tls == VERDICT_PEM) {
		if ((f = fopen(d->facts.pem, "r")) == NULL) {
			snprintf(msg, sizeof(msg), "TLS unable to load %s: %s",
			    d->facts.pem, strerror(errno));
			tls_defer(d, msg, DEFER_CONNECTING);
		}
		fclose(f);
	}
	/* a local file we cannot use costs a client certificate, never TLS */
	if ((ctx = tlsconf_client(CONTROL, &cfg, err, sizeof(err),
	    d->tls.note, sizeof(d->tls.note))) == NULL) {
		snprintf(msg, sizeof(msg), "TLS error initializing ctx: %s",
		    err);
		tls_defer(d, msg, DEFER_CONNECTING);
	}
	command(d, "STARTTLS", "", "\r\n");
	end_if_closing(d, r = reply_code(d));
	if (r != 220) {
		tlsconf_client_done(cfg);
		tls_free(ctx);
		return tls_failed(d, TLSF_REFUSED, r, NULL);
	}
	/* replies sent after the 220 and before TLS are injection */
	smtpc_discard(&d->smtp);
	r = conn_connect(&d->smtp.conn, ctx, d->server->host[0] == '[' ?
	    NULL : d->server->host, io_now() + d->ctl.timeout * 1000);
	tlsconf_client_done(cfg);	/* the key is in OpenSSL's hands now */
	if (r != 0)
		return tls_failed(d, TLSF_HANDSHAKE, 0, r == CONN_TIMEOUT ?
		    "timed out" : conn_error(&d->smtp.conn));
	return judge(d, ctx);
}

/*
 * EHLO again inside TLS.  With TLS 1.3 a server that refuses our client
 * certificate says so only now, after the handshake: a connection that
 * dies here is a failed handshake, not a dropped session.  A server that
 * answers with a reply says why, and is taken at its word.
 */
static enum outcome
ehlo_tls(struct delivery *d)
{
	int	 c;

	if (smtpc_puts(&d->smtp, "EHLO ") == -1 ||
	    smtpc_puts(&d->smtp, d->ctl.helohost) == -1 ||
	    smtpc_puts(&d->smtp, "\r\n") == -1 ||
	    (c = smtpc_reply(&d->smtp)) == -1)
		return tls_failed(d, TLSF_HANDSHAKE, 0,
		    conn_error(&d->smtp.conn));
	end_if_closing(d, c);
	if (c != 250) {
		command(d, "HELO ", d->ctl.helohost, "\r\n");
		if (reply_code(d) != 250)
			quit(d, "ZConnected to ", " but my name was rejected");
	}
	return OUTCOME_GO_ON;
}

/* The K line when the verdict says no STARTTLS: which file said so. */
static void
no_tls_line(struct delivery *d)
{
	char	 file[PATH_MAX];

	if (d->verdict.by == BY_LOCAL)
		snprintf(file, sizeof(file), "control/tlsdestinations line %d",
		    d->local.line);
	else if (d->verdict.by == BY_NOTLSHOSTS)
		snprintf(file, sizeof(file), "%s", d->facts.notls);
	else
		snprintf(file, sizeof(file), "%s", CONTROL
		    "/tlshosts/exhaustivelist");
	snprintf(d->tls.line, sizeof(d->tls.line), "No TLS: not tried, as %s "
	    "says.", file);
}

/* Greeting, EHLO (or HELO), and TLS as the verdict asks. */
static enum outcome
open_session(struct delivery *d, int fd, int usetls)
{
	enum outcome	 o;
	int		 c, esmtp;

	smtpc_init(&d->smtp, fd, (int)d->ctl.timeout * 1000);
	if ((c = smtpc_reply(&d->smtp)) == -1)
		dropped(d);
	if (c != 220)
		quit(d, "ZConnected to ", " but greeting failed");
	command(d, "EHLO ", d->ctl.helohost, "\r\n");
	end_if_closing(d, c = reply_code(d));
	if (!(esmtp = c == 250)) {
		command(d, "HELO ", d->ctl.helohost, "\r\n");
		if (reply_code(d) != 250)
			quit(d, "ZConnected to ", " but my name was rejected");
	}
	if (!usetls)
		return OUTCOME_GO_ON;
	if (d->verdict.tls == VERDICT_PLAIN) {
		no_tls_line(d);
		return OUTCOME_GO_ON;
	}
	if ((o = starttls(d, esmtp)) != OUTCOME_GO_ON ||
	    d->smtp.conn.tls == NULL)
		return o;
	return ehlo_tls(d);
}

/* MAIL, RCPT, DATA and the message: the delivery ends here, reported. */
static void __attribute__((__noreturn__))
transfer(struct delivery *d)
{
	char	**r;
	int	 c, any = 0;

	command(d, "MAIL FROM:<", d->sender, ">\r\n");
	c = reply_code(d);
	if (permanent(d, c))
		quit(d, "DConnected to ", " but sender was rejected");
	if (c >= 400)
		quit(d, "ZConnected to ", " but sender was rejected");
	for (r = d->recips; *r != NULL; r++) {
		command(d, "RCPT TO:<", *r, ">\r\n");
		end_if_closing(d, c = reply_code(d));
		if (c >= 400) {
			report_puts(permanent(d, c) ? "h" : "s");
			report_puts(d->partner);
			report_puts(" does not like recipient.\n");
			report_text(d->smtp.text, d->smtp.textlen);
			d->smtp.textlen = 0;	/* told once, as qmail-remote */
			report_end();
		} else {
			report_puts("r");
			report_end();
			any = 1;
		}
	}
	if (!any)
		quit(d, "DGiving up on ", "");
	command(d, "DATA", "", "\r\n");
	c = reply_code(d);
	if (permanent(d, c))
		quit(d, "D", " failed on DATA command");
	if (c >= 400)
		quit(d, "Z", " failed on DATA command");
	send_message(d);
	c = reply_code(d);
	d->critical = 0;
	if (permanent(d, c))
		quit(d, "D", " failed after I sent the message");
	if (c >= 400)
		quit(d, "Z", " failed after I sent the message");
	quit(d, "K", " accepted message");
}

/* ------------------------------------------------------------- set-up */

static void
read_controls(struct control *ctl)
{
	char	 me[256];
	int	 r;

	ctl->timeout = 1200;
	ctl->timeoutconnect = 60;
	if ((r = control_readline(CONTROL, "me", me, sizeof(me))) == -1)
		temp_control();
	if (r == 0)
		me[0] = '\0';
	r = control_readline(CONTROL, "helohost", ctl->helohost,
	    sizeof(ctl->helohost));
	if (r == -1 || (r == 0 && me[0] == '\0'))
		temp_control();
	if (r == 0)
		strcpy(ctl->helohost, me);
	if (control_readint(CONTROL, "timeoutremote", &ctl->timeout) == -1 ||
	    control_readint(CONTROL, "timeoutconnect",
	    &ctl->timeoutconnect) == -1 ||
	    control_readfile(CONTROL, "smtproutes", &ctl->routes,
	    &ctl->routeslen) == -1 ||
	    control_readfile(CONTROL, "tlsdestinations", &ctl->tlsdest,
	    &ctl->tlsdestlen) == -1)
		temp_control();
	ctl->dane = access(CONTROL "/nodane", F_OK) != 0;
	ctl->mtasts = access(CONTROL "/nomtasts", F_OK) != 0;
	if ((r = control_readline(CONTROL, "mtastsdir", ctl->stsdir,
	    sizeof(ctl->stsdir))) == -1 || (control_readline(CONTROL,
	    "mtastscafile", ctl->stsca, sizeof(ctl->stsca))) == -1)
		temp_control();
	if (r == 0)
		snprintf(ctl->stsdir, sizeof(ctl->stsdir), "%s", STS_CACHE_DIR);
	if (ctl->timeout < 1)
		ctl->timeout = 1;
	if (ctl->timeoutconnect < 1)
		ctl->timeoutconnect = 1;
}

/*
 * The servers to try, best first: the smtproutes relay, else the MX
 * hosts of the domain, as qmail-remote finds them; and the preference
 * at which our own addresses start (servers at or behind it are not
 * tried).
 */
static void
find_servers(struct delivery *d)
{
	struct dns_list	*list = &d->servers;
	size_t		 i;
	int		 r;

	d->port = 25;
	if (!route_find(d->ctl.routes, d->ctl.routeslen, d->domain, d->relay,
	    sizeof(d->relay), &d->port))
		d->relay[0] = '\0';
	if (dns_init(d->ctl.dane) == -1)
		temp_dns();
	r = d->relay[0] != '\0' ? dns_ip(d->relay, list, 0, 1) :
	    dns_mx(d->domain, list, (unsigned long)time(NULL) +
	    ((unsigned long)getpid() << 16));
	if (r == DNS_SOFT)
		temp_dns();
	if (r == DNS_HARD)
		perm_dns(d->relay[0] != '\0' ? d->relay : d->domain);
	if (r == DNS_NULLMX || list->n == 0)
		perm_nomx();
	d->prefme = 100000;
	for (i = 0; i < list->n; i++) {
		if ((r = ipme_is((struct sockaddr *)&list->a[i].sa)) == -1)
			temp_oserr();
		if (r && list->a[i].pref < d->prefme)
			d->prefme = list->a[i].pref;
	}
	if (d->relay[0] != '\0')
		d->prefme = 300000;
	for (i = 0; i < list->n; i++)
		if (list->a[i].pref < d->prefme)
			return;
	perm_ambigmx();
}

/*
 * The destination's rule.  The policy domain is the recipients' domain,
 * or the smtproutes relay (RFC 8461 3.4: a smart host's domain is the
 * policy domain).  Its tlsdestinations line wins over its MTA-STS
 * policy: the administrator's word for a destination.
 */
static void
find_rule(struct delivery *d)
{
	char	 name[MXNAME_MAX];

	d->policy_domain = d->relay[0] != '\0' ? d->relay : d->domain;
	d->rule.domain = d->policy_domain;
	d->rule.kind = RULE_NONE;
	if (tlsdest_find(d->ctl.tlsdest, d->ctl.tlsdestlen, d->policy_domain,
	    &d->local)) {
		if (d->local.error[0] != '\0')
			temp_tlsdest(&d->local);
		d->rule.kind = RULE_LOCAL;
		d->rule.local = &d->local;
		return;
	}
	/* a relay given as an address has no policy of its own */
	if (!d->ctl.mtasts || !mxname_normal(d->policy_domain, name,
	    sizeof(name)) || !sts_policy_for(d->policy_domain, d->ctl.stsdir,
	    d->ctl.stsca[0] != '\0' ? d->ctl.stsca : NULL, &d->sts,
	    d->tls.sts, sizeof(d->tls.sts)))
		return;
	d->rule.kind = d->sts.mode == STS_MODE_ENFORCE ? RULE_STS_ENFORCE :
	    RULE_STS_TESTING;
	d->rule.sts = &d->sts;
}

static int
connect_to(struct delivery *d, int *timedout)
{
	int	 fd;

	fd = dns_connect(d->server, d->port, io_now() +
	    d->ctl.timeoutconnect * 1000, timedout);
	if (fd == DNS_NOSOCKET && errno != EAFNOSUPPORT)
		temp_oserr();
	return fd < 0 ? -1 : fd;
}

/*
 * One server: its verdict (before connecting, for DANE's lookups and so
 * that a refused server never sees us), then the session; returns only
 * if the next server is to be tried.
 */
static void
try_server(struct delivery *d, const struct dns_addr *a)
{
	char		 why[2 * DNS_MAXHOST + 128];
	enum outcome	 o;
	int		 fd, timedout;

	d->server = a;
	dns_fmt(a, d->partner, sizeof(d->partner));
	policy_facts(CONTROL, a, d->port, d->ctl.dane, &d->facts);
	policy_decide(&d->rule, a->host, &d->facts.f, &d->verdict);
	if (d->verdict.tls == VERDICT_SKIP) {
		tls_failed(d, TLSF_NOT_ALLOWED, 0, NULL);
		return;
	}
	if (d->verdict.testing && !d->verdict.listed) {
		snprintf(why, sizeof(why), "%s is not an MX host of the MTA-STS "
		    "policy of %s", a->host, d->policy_domain);
		sts_would_refuse(d, why);
	}
	if ((fd = connect_to(d, &timedout)) == -1) {
		tcpto_note((struct sockaddr *)&a->sa, timedout, time(NULL));
		return;
	}
	tcpto_note((struct sockaddr *)&a->sa, 0, time(NULL));
	if ((o = open_session(d, fd, 1)) == OUTCOME_PLAIN_AGAIN) {
		/* once more, without TLS, to the same server */
		close(fd);
		if ((fd = connect_to(d, &timedout)) == -1)
			temp_noconn();
		o = open_session(d, fd, 0);
	}
	if (o == OUTCOME_NEXT_SERVER) {
		close(fd);
		return;
	}
	/*
	 * Connected for good and TLS settled: from here on only the message
	 * moves (fd 0 to the server, the report to fd 1).  There is no fd 2
	 * to complain on; without the filter we deliver all the same.
	 */
	(void)sandbox_relay(NULL, 0);
	transfer(d);
}

int
main(int argc, char *argv[])
{
	static struct delivery	 d;
	const char		*home;
	size_t			 i;

	signal(SIGPIPE, SIG_IGN);
	if ((home = getenv("STARTTLS_QMAILHOME")) == NULL || *home == '\0')
		home = QMAILHOME;
	if (argc == 2 && strcmp(argv[1], "-C") == 0)
		return check_remote(home);
	if (argc < 4)
		perm_usage();
	if (chdir(home) == -1)
		temp_chdir();
	read_controls(&d.ctl);
	d.domain = argv[1];
	d.sender = argv[2];
	d.recips = argv + 3;

	find_servers(&d);
	find_rule(&d);
	for (i = 0; i < d.servers.n; i++)
		if (d.servers.a[i].pref < d.prefme &&
		    !tcpto_skip((struct sockaddr *)&d.servers.a[i].sa,
		    time(NULL)))
			try_server(&d, &d.servers.a[i]);
	if (d.tls.skipped[0] != '\0')
		temp_skipped(&d);
	temp_noconn();
}
