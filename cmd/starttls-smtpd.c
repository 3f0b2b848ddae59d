/*
 * starttls-smtpd: STARTTLS in front of an unmodified qmail-smtpd.
 *
 *	tcpserver ... starttls-smtpd [-s] [-c dir] [-t sec] [-T sec] prog ...
 *
 * The client is on fds 0 and 1, the log on fd 2.  prog runs behind pipes;
 * after a STARTTLS handshake a new prog is started with the TLS
 * environment (and RELAYCLIENT for a listed client certificate), because
 * qmail-smtpd reads its environment only once.  That one comes from a
 * standby forked at the start (child.h), so that the relay can be
 * narrowed (sandbox.h) before it reads anything from the client.  TLS
 * itself is set up only when a client asks for it: most sessions on port
 * 25 never do, and OpenSSL's start-up is the dearest part of a session.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "clienthello.h"
#include "clientid.h"
#include "inbound.h"
#include "child.h"
#include "confcheck.h"
#include "conn.h"
#include "io.h"
#include "keyfetch.h"
#include "log.h"
#include "privs.h"
#include "proxy.h"
#include "relay.h"
#include "sandbox.h"
#include "tlsconf.h"

#ifndef VERSION
#define VERSION		"unknown"
#endif

#ifndef CONTROLDIR
#define CONTROLDIR	"/var/qmail/control"
#endif

#ifndef RECEIVED_PROGRAM
#define RECEIVED_PROGRAM	"/usr/local/bin/starttls-received"
#endif

#define MAXDOMAINS	16	/* -m */
#define GRACE_MS	2000	/* for the server to exit once its input ends */
#define FAREWELL_MS	10000	/* for a last reply or TLS close_notify */

extern char	**environ;

static struct {
	const char	*controldir;
	int		 smtps;
	int		 idle;		/* seconds */
	int		 handshake;	/* seconds */
	long		 uid, gid;	/* to become when started as root */
	int		 offer;		/* UCSPITLS="": offer STARTTLS */
	int		 require;	/* UCSPITLS="!": and require it */
	const char	*received;	/* the queue program that stamps TLS */
	int		 check;		/* -C: check the control files */
	int		 dns;		/* -D: and what senders see in the DNS */
	char		*domains[MAXDOMAINS + 1];	/* -m: their MTA-STS */
	int		 ndomains;
	char		**prog;		/* the server behind us; -C: names */
} opt = { NULL, 0, 1800, 60, -1, -1, 1, 0, RECEIVED_PROGRAM, 0, 0, { NULL },
    0, NULL };

/* Everything one session holds. */
struct session {
	struct conn		 cl;		/* the client */
	struct child		 ch;		/* the server behind us now */
	struct child		 next;		/* the TLS phase's, standing by */
	struct proxy		 px;
	struct env		 env;		/* for every server behind us */
	struct env		 tlsenv;	/* what TLS adds to it */
	struct tlsconf_server	 keys;		/* read before the sandbox */
	int			 keyfd[2];	/* a named key, from the standby */
	struct clientid_trust	 trust;
	struct tls		*server;	/* set up when first needed */
	int			 tlsok;		/* TLS may be had */
	const char		*qmailqueue;	/* $QMAILQUEUE as it came */
	int			 stamp;		/* opt.received can be run */
};

static void
usage(void)
{
	fprintf(stderr, "usage: starttls-smtpd [-RsUV] [-c controldir] "
	    "[-Q received-program] [-t timeout] [-T handshake-timeout] "
	    "[-u uid] [-g gid] prog [arg ...]\n"
	    "       starttls-smtpd -C [-D] [-c controldir] [-m domain] "
	    "[name ...]\n");
	exit(100);
}

/* A whole number in [min, max] from an option or the environment. */
static long
number(const char *s, long min, long max)
{
	char	*end;
	long	 v;

	if (s == NULL || *s == '\0')
		usage();
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		usage();
	return v;
}

/*
 * Started as root (tcpserver without -u), we must know whom to become,
 * or refuse to start at all.
 */
static void
refuse_root(void)
{
	if (geteuid() == 0 && (opt.uid <= 0 || opt.gid < 0))
		log_fatal(100, "refusing to run as root: give -u and -g, "
		    "or -U with $UID and $GID (or run tcpserver -u)");
}

/*
 * Started as root: the key has been read, now become the user given;
 * nothing that talks to the client or starts qmail-smtpd runs as root.
 */
static void
drop(void)
{
	if (geteuid() == 0 &&
	    privs_become((uid_t)opt.uid, (gid_t)opt.gid) == -1)
		log_fatal(111, "unable to drop privileges: %s",
		    strerror(errno));
}

/* Tell a plaintext client why the session ends, as qmail would. */
static void
say(struct conn *cl, const char *reply)
{
	conn_writeall(cl, reply, strlen(reply), io_now() + FAREWELL_MS);
}

/*
 * Start the SMTP server behind us with environment e, or have a standby
 * become it with e added to the environment it holds; or tell the client
 * and give up.
 */
static void
start(struct child *ch, char **argv, struct env *e, struct conn *cl)
{
	if ((ch->ctl != -1 ? child_launch(ch, e) :
	    child_start(ch, argv, e)) == 0)
		return;
	say(cl, "421 unable to start SMTP service (#4.3.0)\r\n");
	log_fatal(111, "unable to run %s: %s", argv[0], strerror(errno));
}

/*
 * Every file is read and every process we may need has started or
 * stands by: from here on the relay only moves bytes and does TLS.
 */
static void
narrow(const struct child *ch, const struct child *next)
{
	pid_t	 children[2];

	/* kill() on pids only where there is no pidfd to signal through */
	children[0] = ch->pidfd == -1 ? ch->pid : -1;
	children[1] = next->pidfd == -1 ? next->pid : -1;
	if (sandbox_relay(children, 2) == -1)
		log_info("unable to narrow the relay with %s: %s",
		    sandbox_kind(), strerror(errno));
}

/*
 * After the handshake: what the new server is told about the TLS
 * session, and whether the client certificate grants relaying, added to
 * the environment the standby holds.  It takes these names and no others.
 */
static const char *const tlsvars[] = {
	"SSL_*", "RELAYCLIENT", "RBLSMTPD", "TCPREMOTEINFO", "QMAILQUEUE",
	"STARTTLS_QMAILQUEUE", NULL
};

/*
 * qmail-smtpd's Received field is to say TLS: its queue program becomes
 * starttls-received, which runs the one it would have run.
 */
static void
tls_received(struct session *s)
{
	if (opt.received == NULL)
		return;
	if (!s->stamp) {
		log_info("Received field without TLS: unable to run %s%s",
		    opt.received, opt.received[0] == '/' ? "" :
		    " (not an absolute path)");
		return;
	}
	env_set(&s->tlsenv, "QMAILQUEUE", opt.received);
	if (s->qmailqueue != NULL)
		env_set(&s->tlsenv, "STARTTLS_QMAILQUEUE", s->qmailqueue);
}

static void
tls_environment(struct conn *cl, struct env *e, struct clientid_trust *trust,
    const char *certfile)
{
	struct clientid	 id;
	const uint8_t	*pem;
	const char	*sni, *hash;
	size_t		 pemlen;
	int		 r;

	sni = tls_conn_servername(cl->tls);
	log_info("tls %s %s sni=%s cert=%s", tls_conn_version(cl->tls),
	    tls_conn_cipher(cl->tls), sni != NULL ? sni : "-", certfile);
	env_set(e, "SSL_PROTOCOL", tls_conn_version(cl->tls));
	env_set(e, "SSL_CIPHER", tls_conn_cipher(cl->tls));
	if (sni != NULL)
		env_set(e, "SSL_TLS_SNI_SERVERNAME", sni);

	if (!tls_peer_cert_provided(cl->tls)) {
		env_set(e, "SSL_CLIENT_VERIFY", "NONE");
		return;
	}
	pem = tls_peer_cert_chain_pem(cl->tls, &pemlen);
	clientid_check(&id, pem, pemlen, trust);
	if ((hash = tls_peer_cert_hash(cl->tls)) != NULL)
		env_set(e, "SSL_PEER_CERT_HASH", hash);
	env_set(e, "SSL_PEER_CERT_SUBJECT", id.subject);
	log_info("client certificate subject=%s address=%s verify=%s%s",
	    id.subject, id.naddr > 0 ? id.addr[0] : "-",
	    id.verified ? "ok" : "failed: ", id.verified ? "" : id.reason);
	if (!id.verified) {
		char	 v[200];

		snprintf(v, sizeof(v), "FAILED:%s", id.reason);
		env_set(e, "SSL_CLIENT_VERIFY", v);
		log_info("relay not granted: certificate not verified");
		return;
	}
	env_set(e, "SSL_CLIENT_VERIFY", "SUCCESS");
	env_set(e, "SSL_CLIENT_S_DN", id.subject);
	if (id.naddr > 0)
		env_set(e, "SSL_CLIENT_S_DN_Email", id.addr[0]);
	r = clientid_listed(&id, trust);
	if (r == -1) {
		log_info("relay not granted: unable to read tlsclients: %s",
		    strerror(errno));
		return;
	}
	if (r == 0) {
		if (id.naddr > 0)
			log_info("relay not granted: %s not in tlsclients",
			    id.addr[0]);
		else
			log_info("relay not granted: certificate has no "
			    "e-mail address");
		return;
	}
	env_set(e, "SSL_CLIENT_S_DN_Email", id.addr[id.listed]);
	env_set(e, "RELAYCLIENT", "");
	env_set(e, "RBLSMTPD", "");
	env_set(e, "TCPREMOTEINFO", id.addr[id.listed]);
	log_info("relay granted to %s", id.addr[id.listed]);
}

static int
finish(struct session *s, int how)
{
	if (how == RELAY_TIMEOUT)
		log_info("timeout: nothing moved for %d seconds", opt.idle);
	conn_close(&s->cl, io_now() + FAREWELL_MS);
	return child_end(&s->ch, GRACE_MS);
}

/*
 * In the standby, first: the one servercerts/<name>.pem the relay may ask
 * for once it knows the name (keyfetch.h), read with the right to read
 * that we started with; then it is the user we run as, with no more
 * rights than that, before it waits for its environment.  Started as
 * root, it becomes the user at once all the same, keeping only the right
 * to read files until the one is read (privs.h).
 */
static void
standby_first(void *arg)
{
	struct session	*s = arg;

	if (s->keyfd[0] == -1) {
		drop();
		return;
	}
	close(s->keyfd[0]);	/* its EOF means: no name wanted */
	if (geteuid() == 0 && privs_become_reader((uid_t)opt.uid,
	    (gid_t)opt.gid) == -1 && errno != ENOTSUP)
		log_fatal(111, "unable to drop privileges: %s",
		    strerror(errno));
	keyfetch_serve(s->keyfd[1], opt.controldir);
	if (privs_end_reader() == -1)
		log_fatal(111, "unable to drop privileges: %s",
		    strerror(errno));
	drop();
}

/*
 * The server of the TLS phase, forked now to stand by (see child.h),
 * before the privileges go: without it the session goes on without TLS.
 */
static void
standby(struct session *s)
{
	s->keyfd[0] = s->keyfd[1] = -1;
	if (s->keys.hasnamed && keyfetch_open(s->keyfd) == -1) {
		log_info("servercerts/ not used: %s", strerror(errno));
		s->keys.hasnamed = 0;
	}
	if (child_standby(&s->next, opt.prog, &s->env, tlsvars,
	    standby_first, s) == 0) {
		if (s->keyfd[1] != -1)
			close(s->keyfd[1]);
		s->keyfd[1] = -1;
		return;
	}
	log_info("TLS not available: unable to fork: %s", strerror(errno));
	s->tlsok = 0;
}

/* No named key will be asked for: the standby may go on (keyfetch.h). */
static void
keys_done(struct session *s)
{
	if (s->keyfd[0] != -1)
		close(s->keyfd[0]);
	s->keyfd[0] = -1;
}

/*
 * starttls-smtpd -C: the control files checked as a session reads them
 * (confcheck.h), one line each on stdout.
 */
static int
check(char **names)
{
	struct confcheck	 c;

	confcheck_init(&c, opt.controldir);
	confcheck_keypair(&c, "servercert.pem", NULL, CHECK_REQUIRED);
	confcheck_servercerts(&c);
	confcheck_ciphers(&c, "tlsserverciphers", "TLSCIPHERS");
	confcheck_clientca(&c);
	confcheck_tlsclients(&c);
	if (opt.dns)
		inbound_check(&c, opt.controldir, names, opt.domains);
	return confcheck_status(&c);
}

/* What tcprules may set per client: SMTPS and UCSPITLS. */
static void
environment_options(void)
{
	const char	*policy;

	if (getenv("SMTPS") != NULL && *getenv("SMTPS") != '\0')
		opt.smtps = 1;
	if ((policy = getenv("UCSPITLS")) == NULL)
		policy = "";
	if (strcmp(policy, "-") == 0)
		opt.offer = 0;
	else if (strcmp(policy, "!") == 0)
		opt.require = 1;
	else if (*policy != '\0')
		log_info("unknown UCSPITLS=%s, offering TLS", policy);
}

/* The options, and UCSPITLS; the server's argv is what follows them. */
static void
options(int argc, char *argv[])
{
	int		 c;

	opt.controldir = getenv("STARTTLS_CONTROLDIR");
	if ((opt.received = getenv("STARTTLS_RECEIVED")) == NULL)
		opt.received = RECEIVED_PROGRAM;
	while ((c = getopt(argc, argv, "+CDc:m:Q:Rst:T:Uu:g:V")) != -1) {
		switch (c) {
		case 'C':
			opt.check = 1;
			break;
		case 'D':
			opt.dns = 1;
			break;
		case 'm':
			if (opt.ndomains == MAXDOMAINS)
				usage();
			opt.domains[opt.ndomains++] = optarg;
			break;
		case 'V':
			printf("starttls-smtpd %s (sandbox: %s)\n", VERSION,
			    sandbox_kind());
			exit(0);
		case 'U':
			opt.uid = number(getenv("UID"), 0, LONG_MAX);
			opt.gid = number(getenv("GID"), 0, LONG_MAX);
			break;
		case 'u':
			opt.uid = number(optarg, 0, LONG_MAX);
			break;
		case 'g':
			opt.gid = number(optarg, 0, LONG_MAX);
			break;
		case 'c':
			opt.controldir = optarg;
			break;
		case 'Q':
			opt.received = optarg;
			break;
		case 'R':
			opt.received = NULL;
			break;
		case 's':
			opt.smtps = 1;
			break;
		case 't':
			opt.idle = (int)number(optarg, 1, 86400);
			break;
		case 'T':
			opt.handshake = (int)number(optarg, 1, 86400);
			break;
		default:
			usage();
		}
	}
	opt.prog = argv + optind;
	if (opt.controldir == NULL || *opt.controldir == '\0')
		opt.controldir = CONTROLDIR;
	if ((opt.dns || opt.ndomains > 0) && !opt.check)
		usage();
	if (opt.ndomains > 0)
		opt.dns = 1;
	if (opt.check)
		exit(check(opt.prog));
	if (opt.prog[0] == NULL)
		usage();
	if (opt.received != NULL && *opt.received == '\0')
		opt.received = NULL;
	environment_options();
}

/*
 * The servers see neither our settings nor TLS facts from elsewhere.
 * Whether starttls-received can be run is asked now, while we may.
 */
static void
environment(struct session *s)
{
	s->qmailqueue = getenv("QMAILQUEUE");
	s->stamp = opt.received != NULL && opt.received[0] == '/' &&
	    access(opt.received, X_OK) == 0;
	if (env_init(&s->env, environ) == -1 ||
	    env_init(&s->tlsenv, (char *[]){ NULL }) == -1)
		log_fatal(111, "unable to copy environment: %s",
		    strerror(errno));
	env_unset(&s->env, "SMTPS");
	env_unset(&s->env, "TLSCIPHERS");
	env_unset(&s->env, "UCSPITLS");
	env_unset(&s->env, "STARTTLS_CONTROLDIR");
	env_unset(&s->env, "STARTTLS_RECEIVED");
	env_unset(&s->env, "STARTTLS_QMAILQUEUE");
	env_unset_prefix(&s->env, "SSL_");
}

/*
 * servercert.pem and the cipher list, read (not parsed: see tls_ready())
 * while we may, as root before the privileges go.  Without them there is
 * no STARTTLS; implicit TLS cannot go on at all.
 */
static void
read_keys(struct session *s)
{
	char	 err[512];

	s->tlsok = opt.smtps || opt.offer;
	if (!s->tlsok)
		return;
	if (tlsconf_server_read(&s->keys, opt.controldir,
	    getenv("TLSCIPHERS"), err, sizeof(err)) == 0)
		return;
	if (opt.smtps)
		log_fatal(111, "TLS not available: %s", err);
	log_info("TLS not available: %s", err);
	s->tlsok = 0;
}

/*
 * The plaintext phase's server, as the user we run as (none for implicit
 * TLS); then the trust files, opened to be read when a client
 * certificate comes.
 */
static void
spawn(struct session *s)
{
	if (opt.smtps && !s->tlsok)
		log_fatal(111, "unable to fork: %s", strerror(errno));
	if (!opt.smtps)
		start(&s->ch, opt.prog, &s->env, &s->cl);
	if (s->tlsok && s->keys.askcert)
		clientid_load(&s->trust, opt.controldir);
}

/*
 * The relay's answer to an accepted STARTTLS (relay.h): TLS is set up
 * now, under the sandbox, from the bytes read_keys() kept.  With
 * certificates per server name, which one is known only from the
 * client's hello: then it waits for that (server_for()).
 */
static int
tls_ready(void *arg)
{
	struct session	*s = arg;
	char		 err[512];

	if (s->keys.hasnamed)
		return 1;
	if ((s->server = tlsconf_server_make(&s->keys, NULL, err,
	    sizeof(err))) == NULL)
		log_info("TLS not available: %s", err);
	return s->server != NULL;
}

/*
 * The bytes of servercerts/<name>.pem, when there is one, from the
 * standby: the relay can open no file.  No such file is no error: the
 * client gets servercert.pem.
 */
static void
named_fetch(struct session *s, const char *name, long deadline)
{
	struct tlsconf_named	*n = &s->keys.named;

	if (s->keyfd[0] == -1 ||
	    !tlsconf_servername(name, n->name, sizeof(n->name)))
		return;
	if (keyfetch_get(s->keyfd[0], n->name, &n->pem, &n->pemlen,
	    deadline) == -1)
		log_info("unable to fetch servercerts/%s.pem: %s; "
		    "servercert.pem instead", n->name, strerror(errno));
}

/*
 * The server context for the name the client asked for: its own
 * certificate, or servercert.pem when it has none or that one fails.
 */
static int
server_for(struct session *s, const char *name, long deadline)
{
	char	 err[512];

	if (s->server != NULL)
		return 0;
	named_fetch(s, name, deadline);
	keys_done(s);
	if (*name != '\0' && (s->server = tlsconf_server_make(&s->keys,
	    name, err, sizeof(err))) == NULL && strstr(err, "servercerts/"))
		log_info("%s; servercert.pem instead", err);
	if (s->server == NULL && (s->server = tlsconf_server_make(&s->keys,
	    NULL, err, sizeof(err))) == NULL) {
		log_info("TLS not available: %s", err);
		return -1;
	}
	return 0;
}

static int
handshake(struct session *s)
{
	char	 name[TLSCONF_NAME_MAX + 2];
	long	 deadline = io_now() + opt.handshake * 1000L;
	int	 r;

	r = clienthello_read(&s->cl, deadline, name, sizeof(name));
	if (r != 0)
		keys_done(s);
	if (r == 0 && server_for(s, name, deadline) == -1)
		return -1;
	if (r == 0)
		r = conn_accept(&s->cl, s->server, deadline);
	if (r == CONN_TIMEOUT)
		log_info("TLS handshake timed out after %d seconds",
		    opt.handshake);
	else if (r != 0 && conn_closed(&s->cl))
		log_info("client closed the connection during the TLS "
		    "handshake");
	else if (r != 0)
		log_info("TLS handshake failed: %s", conn_error(&s->cl));
	return r;
}

/* The plaintext phase: 0 when the client's STARTTLS has been accepted. */
static int
plaintext(struct session *s, int *status)
{
	int	 how;

	proxy_init(&s->px, (s->tlsok ? PROXY_OFFER : 0) |
	    (opt.require ? PROXY_REQUIRE : 0) |
	    (opt.offer ? 0 : PROXY_TRANSPARENT));
	how = relay_run(&s->cl, &s->ch, &s->px, opt.idle * 1000, tls_ready,
	    s);
	if (how != RELAY_STARTTLS) {
		*status = finish(s, how);
		return -1;
	}
	if (s->px.discarded > 0)
		log_info("discarded %zu bytes sent after STARTTLS",
		    s->px.discarded);
	child_end(&s->ch, GRACE_MS);
	return 0;
}

/* Handshake, then the TLS phase's server with what TLS tells about it. */
static int
tls_phase(struct session *s)
{
	if ((opt.smtps && !tls_ready(s)) || handshake(s) != 0)
		return 111;
	tls_environment(&s->cl, &s->tlsenv, &s->trust, s->keys.used);
	tls_received(s);
	s->ch = s->next;
	child_init(&s->next);
	start(&s->ch, opt.prog, &s->tlsenv, &s->cl);
	if (opt.smtps)
		proxy_init(&s->px, PROXY_TLS);
	else
		proxy_restart(&s->px);
	return finish(s, relay_run(&s->cl, &s->ch, &s->px, opt.idle * 1000,
	    NULL, NULL));
}

int
main(int argc, char *argv[])
{
	static struct session	 s;
	int			 status;

	log_init("starttls-smtpd");
	signal(SIGPIPE, SIG_IGN);
	options(argc, argv);
	environment(&s);
	conn_init(&s.cl, 0, 1);
	io_nodelay(1);
	child_init(&s.ch);
	child_init(&s.next);
	clientid_init(&s.trust);

	s.keyfd[0] = s.keyfd[1] = -1;
	refuse_root();
	read_keys(&s);
	if (s.tlsok)
		standby(&s);	/* before drop(): see standby_first() */
	drop();
	spawn(&s);
	narrow(&s.ch, &s.next);
	if (opt.smtps || plaintext(&s, &status) == 0)
		status = tls_phase(&s);

	keys_done(&s);
	if (s.next.pid > 0)	/* no STARTTLS: the standby is not needed */
		child_end(&s.next, GRACE_MS);
	/* nothing left to do; freed so that valgrind can tell real leaks */
	if (s.cl.tls != NULL)
		tls_free(s.cl.tls);
	if (s.server != NULL)
		tls_free(s.server);
	tlsconf_server_free(&s.keys);
	env_free(&s.env);
	env_free(&s.tlsenv);
	clientid_unload(&s.trust);
	return status;
}
