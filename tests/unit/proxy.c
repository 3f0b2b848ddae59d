/*
 * Unit tests: the STARTTLS state machine (lib/smtpd/proxy.c), driven directly
 * through struct buf buffers.
 */
#include "unit.h"

#define BUFSZ	65536

static struct proxy	 P;
static int		 tlsready = 1;	/* what the relay's set-up says */
static char		 m_in[BUFSZ], m_tochild[BUFSZ];
static char		 m_chout[BUFSZ], m_toclient[BUFSZ];
static struct buf	 IN, TOCHILD, CHOUT, TOCLIENT;

static void
rig(int tls, int offer, int require, int transparent)
{
	tlsready = 1;
	proxy_init(&P, (tls ? PROXY_TLS : 0) | (offer ? PROXY_OFFER : 0) |
	    (require ? PROXY_REQUIRE : 0) |
	    (transparent ? PROXY_TRANSPARENT : 0));
	buf_init(&IN, m_in, sizeof(m_in));
	buf_init(&TOCHILD, m_tochild, sizeof(m_tochild));
	buf_init(&CHOUT, m_chout, sizeof(m_chout));
	buf_init(&TOCLIENT, m_toclient, sizeof(m_toclient));
}

/* As the relay does: a STARTTLS accepted is answered once TLS is set up. */
static void
client_step(void)
{
	proxy_client(&P, &IN, &TOCHILD, &TOCLIENT);
	if (P.state == PROXY_TLSWANTED)
		proxy_tlsready(&P, tlsready, &TOCLIENT);
}

static int
client_n(const char *s, size_t n)
{
	if (buf_put(&IN, s, n) == -1)
		return -1;
	client_step();
	return 0;
}

static int
server_n(const char *s, size_t n)
{
	if (buf_put(&CHOUT, s, n) == -1)
		return -1;
	proxy_child(&P, &CHOUT, &TOCLIENT);
	return 0;
}

#define CLIENT(s)	CHECK(client_n(L(s)) == 0)
#define SERVER(s)	CHECK(server_n(L(s)) == 0)
#define CLIENT_AGAIN()	client_step()
#define STATE(s)	CHECK_INT(P.state, s)

#define GREET() do {							\
	SERVER("220 host ESMTP\r\n");					\
	EXPECT(TOCLIENT, "220 host ESMTP\r\n");				\
	CHECK_INT(P.ntags, 0);						\
} while (0)

#define EHLO_QMAIL	"250-host\r\n250-PIPELINING\r\n250 8BITMIME\r\n"

/* a. greeting and EHLO rewriting */

static void
t_px_greeting(void)
{
	rig(0, 1, 0, 0);
	SERVER("220 host ESMTP\r\n");
	EXPECT(TOCLIENT, "220 host ESMTP\r\n");
	EXPECT_EMPTY(TOCHILD);
	CHECK_INT(P.ntags, 0);
	CHECK_INT(CHOUT.len, 0);
	STATE(PROXY_COMMAND);
}
UNIT(t_px_greeting, "proxy greeting passes unchanged");

static void
t_px_ehlo_offer(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	EXPECT_EMPTY(TOCLIENT);
	SERVER(EHLO_QMAIL);
	EXPECT(TOCLIENT,
	    "250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	CHECK_INT(P.ntags, 0);
	CHECK_INT(CHOUT.len, 0);
}
UNIT(t_px_ehlo_offer, "proxy EHLO reply gets STARTTLS when offered");

static void
t_px_ehlo_nooffer(void)
{
	rig(0, 0, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER(EHLO_QMAIL);
	EXPECT(TOCLIENT, EHLO_QMAIL);
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_ehlo_nooffer, "proxy EHLO reply unchanged when not offered");

static void
t_px_ehlo_single(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("250 host\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 STARTTLS\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_ehlo_single, "proxy single-line EHLO reply gets STARTTLS");

static void
t_px_ehlo_has_starttls(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT,
	    "250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
}
UNIT(t_px_ehlo_has_starttls,
    "proxy server STARTTLS not advertised twice");

static void
t_px_ehlo_has_starttls_last(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250-host\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
}
UNIT(t_px_ehlo_has_starttls_last,
    "proxy server STARTTLS as last line not advertised twice");

static void
t_px_ehlo_refused(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("550-no\r\n550 not you\r\n");
	EXPECT(TOCLIENT, "550-no\r\n550 not you\r\n");
	CLIENT("EHLO y\r\n");
	SERVER("502 unimplemented (#5.5.1)\r\n");
	EXPECT(TOCLIENT, "502 unimplemented (#5.5.1)\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_ehlo_refused, "proxy non-2xx EHLO reply unchanged");

/* HELO is not rewritten */
static void
t_px_helo_untouched(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("HELO x\r\n");
	EXPECT(TOCHILD, "HELO x\r\n");
	SERVER("250 host\r\n");
	EXPECT(TOCLIENT, "250 host\r\n");
}
UNIT(t_px_helo_untouched, "proxy HELO reply unchanged");

/*
 * "250" without text is a valid last reply line (RFC 5321 Reply-line);
 * whatever the rewrite does, the client must still see ONE reply, i.e.
 * only its last line may be a last line, and it must offer STARTTLS.
 */
static void
t_px_ehlo_bare_code(void)
{
	const char	*d, *nl, *end;
	size_t		 n;
	int		 lasts = 0, kw = 0;

	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250\r\n");
	d = buf_data(&TOCLIENT);
	end = d + TOCLIENT.len;
	for (; d < end; d += n) {
		nl = memchr(d, '\n', (size_t)(end - d));
		n = nl != NULL ? (size_t)(nl - d) + 1 : (size_t)(end - d);
		if (smtp_reply_last(d, n) && d + n < end)
			lasts++;
		if (smtp_ehlo_keyword(d, n, "STARTTLS"))
			kw++;
	}
	if (lasts != 0 || kw != 1)
		FAIL("rewritten reply \"%s\" ends early (%d) or has %d STARTTLS",
		    esc(buf_data(&TOCLIENT), TOCLIENT.len), lasts, kw);
}
UNIT(t_px_ehlo_bare_code,
    "proxy EHLO reply 250 without text stays one reply");

static void
t_px_posttls_strip_last(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("220 host ESMTP\r\n");
	EXPECT_EMPTY(TOCLIENT);
	SERVER("250-host\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 PIPELINING\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_posttls_strip_last,
    "proxy after TLS server STARTTLS removed from last line");

static void
t_px_posttls_strip_middle(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	SERVER("220 host ESMTP\r\n");
	SERVER("250-host\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
}
UNIT(t_px_posttls_strip_middle,
    "proxy after TLS server STARTTLS removed from middle line");

static void
t_px_posttls_strip_only(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	SERVER("220 host ESMTP\r\n");
	SERVER("250-host\r\n250 starttls\r\n");
	EXPECT(TOCLIENT, "250 host\r\n");
}
UNIT(t_px_posttls_strip_only,
    "proxy after TLS server STARTTLS removed, only host left");

/* implicit TLS (port 465): never offered, a server's STARTTLS removed */
static void
t_px_smtps_no_offer(void)
{
	rig(1, 1, 1, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250-host\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
	CLIENT("MAIL FROM:<a>\r\n");
	EXPECT(TOCHILD, "EHLO x\r\nMAIL FROM:<a>\r\n");
	CLIENT("STARTTLS\r\n");
	SERVER("250 ok\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250 ok\r\n503 TLS already active (#5.5.1)\r\n");
}
UNIT(t_px_smtps_no_offer, "proxy implicit TLS never offers STARTTLS");

/* b. injection */

static void
t_px_injection(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("STARTTLS\r\nRSET\r\nMAIL FROM:<x@evil>\r\n");
	EXPECT_EMPTY(TOCHILD);
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
	CHECK_INT(P.discarded, sizeof("RSET\r\nMAIL FROM:<x@evil>\r\n") - 1);
	CHECK_INT(IN.len, 0);
	CHECK_INT(proxy_reading(&P), 0);
	CHECK_INT(proxy_listening(&P), 0);
}
UNIT(t_px_injection, "proxy injection after STARTTLS is discarded");

/*
 * TLS is set up only when a client asks; if that fails, 454, the session
 * goes on in plaintext, and STARTTLS is no longer advertised or accepted.
 */
static void
t_px_tls_setup_fails(void)
{
	rig(0, 1, 0, 0);
	tlsready = 0;
	GREET();
	CLIENT("STARTTLS\r\n");
	EXPECT_EMPTY(TOCHILD);
	EXPECT(TOCLIENT, "454 TLS not available (#4.7.0)\r\n");
	STATE(PROXY_COMMAND);
	CHECK_INT(proxy_reading(&P), 1);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("250-host\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
	CLIENT("STARTTLS\r\n");
	EXPECT(TOCLIENT, "454 TLS not available (#4.7.0)\r\n");
	CLIENT("MAIL FROM:<a>\r\n");
	EXPECT(TOCHILD, "MAIL FROM:<a>\r\n");
}
UNIT(t_px_tls_setup_fails,
    "proxy TLS set-up failing at STARTTLS: 454, plaintext goes on");

/* while TLS is being set up, nothing is read or answered */
static void
t_px_tls_wanted_waits(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CHECK(buf_put(&IN, L("STARTTLS\r\n")) == 0);
	proxy_client(&P, &IN, &TOCHILD, &TOCLIENT);
	STATE(PROXY_TLSWANTED);
	EXPECT_EMPTY(TOCLIENT);
	CHECK_INT(proxy_reading(&P), 0);
	CHECK_INT(proxy_listening(&P), 0);
	proxy_tlsready(&P, 1, &TOCLIENT);
	STATE(PROXY_STARTTLS);
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
}
UNIT(t_px_tls_wanted_waits, "proxy waits while TLS is set up");

/* a NUL ends the line for qmail: "STARTTLS\0junk" is a STARTTLS */
static void
t_px_injection_nul(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CHECK(client_n(L("STARTTLS\0junk\r\nRSET\r\n")) == 0);
	EXPECT_EMPTY(TOCHILD);
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
	CHECK_INT(P.discarded, 6);
}
UNIT(t_px_injection_nul,
    "proxy STARTTLS NUL junk is STARTTLS, rest discarded");

/* pipelined behind a command: its reply goes out first, then 220 */
static void
t_px_injection_pipelined(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("NOOP\r\nSTARTTLS\r\nRSET\r\n");
	EXPECT(TOCHILD, "NOOP\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
	SERVER("250 ok\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250 ok\r\n220 ready for tls\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_STARTTLS);
	CHECK_INT(P.discarded, 6);
}
UNIT(t_px_injection_pipelined,
    "proxy pipelined STARTTLS waits, injection discarded");

/* c. ordering */

static void
t_px_order_ehlo_starttls(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
	SERVER(EHLO_QMAIL);
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n"
	    "250 8BITMIME\r\n220 ready for tls\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_STARTTLS);
	CHECK_INT(P.discarded, 0);
}
UNIT(t_px_order_ehlo_starttls,
    "proxy EHLO then STARTTLS: 220 after the EHLO reply");

/* STARTTLS before the greeting has arrived waits for it */
static void
t_px_order_before_greeting(void)
{
	rig(0, 1, 0, 0);
	CLIENT("STARTTLS\r\n");
	EXPECT_EMPTY(TOCLIENT);
	EXPECT_EMPTY(TOCHILD);
	SERVER("220 host ESMTP\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "220 host ESMTP\r\n220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}
UNIT(t_px_order_before_greeting,
    "proxy STARTTLS before greeting waits for it");

/* d. our own replies */

static void
t_px_starttls_arg(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("STARTTLS x\r\nNOOP\r\n");
	EXPECT(TOCLIENT, "501 Syntax error (no parameters allowed) (#5.5.4)\r\n");
	EXPECT(TOCHILD, "NOOP\r\n");
	STATE(PROXY_COMMAND);
	CHECK_INT(P.ntags, 1);
}
UNIT(t_px_starttls_arg, "proxy STARTTLS with argument is 501");

static void
t_px_starttls_trailing_space(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("STARTTLS \r\n");
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}
UNIT(t_px_starttls_trailing_space,
    "proxy STARTTLS trailing space has no argument");

static void
t_px_starttls_nooffer(void)
{
	rig(0, 0, 0, 0);
	GREET();
	CLIENT("STARTTLS\r\n");
	EXPECT(TOCLIENT, "454 TLS not available (#4.7.0)\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_COMMAND);
	CLIENT("MAIL FROM:<a>\r\n");
	EXPECT(TOCHILD, "MAIL FROM:<a>\r\n");
}
UNIT(t_px_starttls_nooffer, "proxy STARTTLS without TLS is 454");

static void
t_px_starttls_again(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	SERVER("220 host ESMTP\r\n");
	EXPECT_EMPTY(TOCLIENT);
	CLIENT("STARTTLS\r\n");
	EXPECT(TOCLIENT, "503 TLS already active (#5.5.1)\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_COMMAND);
}
UNIT(t_px_starttls_again, "proxy STARTTLS after TLS is 503");

static void
t_px_require_mail(void)
{
	rig(0, 1, 1, 0);
	GREET();
	CLIENT("MAIL FROM:<a>\r\n");
	EXPECT(TOCLIENT, "530 Must issue a STARTTLS command first (#5.7.0)\r\n");
	EXPECT_EMPTY(TOCHILD);
	CLIENT("RCPT TO:<b>\r\nDATA\r\n");
	EXPECT(TOCLIENT, "530 Must issue a STARTTLS command first (#5.7.0)\r\n"
	    "530 Must issue a STARTTLS command first (#5.7.0)\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_COMMAND);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
}
UNIT(t_px_require_mail,
    "proxy require: MAIL RCPT DATA before STARTTLS are 530");

/* e. DATA */

static void
t_px_data_body(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\n");
	EXPECT(TOCHILD, "DATA\r\n");
	STATE(PROXY_DATAWAIT);
	CLIENT("Subject: x\r\n\r\nSTARTTLS\r\n");
	EXPECT_EMPTY(TOCHILD);
	EXPECT_EMPTY(TOCLIENT);
	CHECK_INT(IN.len, 24);
	SERVER("354 go ahead\r\n");
	EXPECT(TOCLIENT, "354 go ahead\r\n");
	STATE(PROXY_BODY);
	CLIENT_AGAIN();
	EXPECT(TOCHILD, "Subject: x\r\n\r\nSTARTTLS\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_BODY);
	CLIENT("..\r\n.\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "..\r\n.\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
	SERVER("250 ok\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250 ok\r\n220 ready for tls\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_STARTTLS);
}
UNIT(t_px_data_body,
    "proxy DATA body with STARTTLS held until 354 and passed");

/* the end of data split over calls */
static void
t_px_data_split_end(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\n");
	SERVER("354 go ahead\r\n");
	EXPECT(TOCLIENT, "354 go ahead\r\n");
	CLIENT("hi\r\n.");
	CLIENT("\r");
	EXPECT(TOCHILD, "DATA\r\nhi\r\n.\r");
	STATE(PROXY_BODY);
	CLIENT("\nQUIT\r\n");
	/* the end of data, then QUIT: pipelined, forwarded at once */
	EXPECT(TOCHILD, "\nQUIT\r\n");
	STATE(PROXY_QUIT);
	CHECK_INT(P.ntags, 2);
	SERVER("250 ok\r\n221 host\r\n");
	EXPECT(TOCLIENT, "250 ok\r\n221 host\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_data_split_end, "proxy DATA end split over calls");

static void
t_px_data_refused(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "DATA\r\n");
	STATE(PROXY_DATAWAIT);
	SERVER("503 RCPT first (#5.5.1)\r\n");
	STATE(PROXY_COMMAND);
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "503 RCPT first (#5.5.1)\r\n220 ready for tls\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_STARTTLS);
}
UNIT(t_px_data_refused, "proxy DATA refused keeps command mode");

/*
 * A bare LF: stock qmail-smtpd answers 451 and exits.  The message goes
 * on to a line of "." meanwhile; once the server has gone, nothing more
 * is a command, and a STARTTLS after it is never answered.
 */
static void
t_px_data_stray(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\n");
	SERVER("354 go ahead\r\n");
	EXPECT(TOCLIENT, "354 go ahead\r\n");
	CLIENT("hi\nthere\r\n.\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "DATA\r\nhi\nthere\r\n.\r\n");
	STATE(PROXY_COMMAND);
	SERVER("451 See https://cr.yp.to/docs/smtplf.html.\r\n");
	proxy_childgone(&P);
	EXPECT(TOCLIENT, "451 See https://cr.yp.to/docs/smtplf.html.\r\n");
	CLIENT_AGAIN();
	EXPECT_EMPTY(TOCHILD);
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
}
UNIT(t_px_data_stray, "proxy DATA bare LF, stock qmail-smtpd: 451, gone");

/* the server answers the message before its end: it is over for it */
static void
t_px_data_stray_early_reply(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\n");
	SERVER("354 go ahead\r\n");
	EXPECT(TOCLIENT, "354 go ahead\r\n");
	CLIENT("hi\nthere");
	EXPECT(TOCHILD, "DATA\r\nhi\nthere");
	STATE(PROXY_LOOSEBODY);
	SERVER("451 See https://cr.yp.to/docs/smtplf.html.\r\n");
	STATE(PROXY_COMMAND);
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_data_stray_early_reply,
    "proxy DATA bare LF, a reply before the end ends the message");

/*
 * Behind fixcrio, which turns every bare LF into CRLF, qmail-smtpd reads
 * on: the message ends at a line of "." with or without CR, and the
 * session goes on.
 */
static void
t_px_data_stray_fixcrio(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("DATA\r\n");
	SERVER("354 go ahead\r\n");
	EXPECT(TOCLIENT, "354 go ahead\r\n");
	CLIENT("hi\nSTARTTLS\n.x\n.\nQUIT\r\n");
	EXPECT(TOCHILD, "DATA\r\nhi\nSTARTTLS\n.x\n.\nQUIT\r\n");
	STATE(PROXY_QUIT);
	SERVER("250 ok 1 qp 2\r\n221 bye\r\n");
	EXPECT(TOCLIENT, "250 ok 1 qp 2\r\n221 bye\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_data_stray_fixcrio,
    "proxy DATA bare LF behind fixcrio: a line of \".\" ends it");

/* f. multi-line and split replies */

static void
t_px_multiline_greeting(void)
{
	rig(0, 1, 0, 0);
	SERVER("220-host ESMTP\r\n220-more\r\n220 end\r\n");
	EXPECT(TOCLIENT, "220-host ESMTP\r\n220-more\r\n220 end\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_multiline_greeting, "proxy multi-line greeting intact");

static void
t_px_split_reply(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("NOOP\r\n");
	SERVER("250-a\r\n25");
	CHECK_INT(P.ntags, 1);
	SERVER("0 b\r\n");
	EXPECT(TOCLIENT, "250-a\r\n250 b\r\n");
	CHECK_INT(P.ntags, 0);
	CHECK_INT(CHOUT.len, 0);
}
UNIT(t_px_split_reply, "proxy reply split across calls intact");

static void
t_px_split_ehlo(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("EHLO x\r\n");
	SERVER("250-host\r\n250-PIPE");
	SERVER("LINING\r\n250 8BIT");
	SERVER("MIME\r\n");
	EXPECT(TOCLIENT,
	    "250-host\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_split_ehlo, "proxy EHLO reply split across calls rewritten");

static void
t_px_bytewise_replies(void)
{
	static const char	 r[] = "220-a\r\n220 b\r\n" EHLO_QMAIL
	    "250-x\r\n250 y\r\n";
	size_t			 i;

	rig(0, 1, 0, 0);
	CLIENT("EHLO x\r\nNOOP\r\n");
	EXPECT(TOCHILD, "EHLO x\r\nNOOP\r\n");
	for (i = 0; i < sizeof(r) - 1; i++)
		CHECK(server_n(r + i, 1) == 0);
	EXPECT(TOCLIENT, "220-a\r\n220 b\r\n250-host\r\n250-STARTTLS\r\n"
	    "250-PIPELINING\r\n250 8BITMIME\r\n250-x\r\n250 y\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_bytewise_replies, "proxy replies fed one byte at a time");

/* g. transparent */

static void
t_px_transparent(void)
{
	rig(0, 1, 0, 1);
	SERVER("220 host ESMTP\r\n");
	EXPECT(TOCLIENT, "220 host ESMTP\r\n");
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("250-host\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
	CLIENT("STARTTLS\r\nRSET\r\n");
	EXPECT(TOCHILD, "STARTTLS\r\nRSET\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_COMMAND);
	SERVER("250-host\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	CHECK(client_n(L("x\ny\0z")) == 0);
	if (!buf_is(&TOCHILD, L("x\ny\0z"), "TOCHILD", __LINE__))
		return;
}
UNIT(t_px_transparent, "proxy transparent passes bytes untouched");

/* h. the greeting of the server started after TLS */

static void
t_px_swallow_greeting(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("220 host ESMTP\r\n250-host\r\n250 8BITMIME\r\n");
	EXPECT(TOCLIENT, "250-host\r\n250 8BITMIME\r\n");
	CHECK_INT(P.ntags, 0);
	STATE(PROXY_COMMAND);
}
UNIT(t_px_swallow_greeting, "proxy after TLS greeting swallowed");

static void
t_px_swallow_multiline(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	SERVER("220-host ESMTP\r\n220 more\r\n250 host\r\n");
	EXPECT(TOCLIENT, "250 host\r\n");
	CHECK_INT(P.ntags, 0);
}
UNIT(t_px_swallow_multiline,
    "proxy after TLS multi-line greeting swallowed");

static void
t_px_refused_pending(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	CLIENT("EHLO x\r\n");
	EXPECT(TOCHILD, "EHLO x\r\n");
	SERVER("421 go away\r\n");
	CLIENT_AGAIN();		/* the relay calls it on every pass */
	EXPECT(TOCLIENT, "421 go away\r\n");
	STATE(PROXY_END);
	CHECK_INT(proxy_listening(&P), 0);
}
UNIT(t_px_refused_pending,
    "proxy after TLS refusing greeting answers pending EHLO");

/* our own reply waits for room rather than being lost (review F4) */
static void
t_px_own_reply_waits_for_room(void)
{
	static char	 filler[65536];

	rig(0, 1, 0, 0);
	GREET();
	memset(filler, 'x', sizeof(filler));
	CHECK(buf_put(&TOCLIENT, filler, sizeof(m_toclient) - 10) == 0);
	CLIENT("STARTTLS x\r\nQUIT\r\n");
	CHECK_INT(TOCHILD.len, 0);		/* QUIT waits behind it */
	buf_drop(&TOCLIENT, TOCLIENT.len);
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "501 Syntax error (no parameters allowed) "
	    "(#5.5.4)\r\n");
	EXPECT(TOCHILD, "QUIT\r\n");
}
UNIT(t_px_own_reply_waits_for_room,
    "proxy own reply waits for room in a full client buffer");

/* after the client's EOF only what can never be used is dropped */
static void
t_px_leftover(void)
{
	rig(0, 1, 0, 0);
	CHECK(buf_puts(&IN, "QUIT\r\n") == 0);
	CHECK_INT(proxy_leftover(&P, &IN), 0);	/* a whole line waits */
	buf_drop(&IN, IN.len);
	CHECK(buf_puts(&IN, "QUI") == 0);
	CHECK_INT(proxy_leftover(&P, &IN), 1);	/* half a line */
	P.state = PROXY_BODY;
	CHECK_INT(proxy_leftover(&P, &IN), 0);	/* message bytes */
	P.state = PROXY_QUIT;
	CHECK_INT(proxy_leftover(&P, &IN), 1);	/* nobody reads on */
	P.state = PROXY_COMMAND;
	P.transparent = 1;
	CHECK_INT(proxy_leftover(&P, &IN), 0);
}
UNIT(t_px_leftover,
    "proxy after client EOF drops only what cannot be used");

/* refused before the client said anything: the next line gets it */
static void
t_px_refused_later(void)
{
	rig(0, 1, 0, 0);
	proxy_restart(&P);
	SERVER("421 go away\r\n");
	EXPECT_EMPTY(TOCLIENT);
	STATE(PROXY_REFUSED);
	CLIENT("EHLO");
	EXPECT_EMPTY(TOCLIENT);
	CLIENT(" x\r\nMAIL FROM:<a>\r\n");
	EXPECT(TOCLIENT, "421 go away\r\n");
	EXPECT_EMPTY(TOCHILD);
	STATE(PROXY_END);
}
UNIT(t_px_refused_later,
    "proxy after TLS refusing greeting answers next line");

/* i. very long lines */

/* Feed s/n through IN as the relay does; TOCHILD is checked against fwd. */
static int
pump_client(const char *s, size_t n, const char *fwd, size_t fwdlen,
    size_t *got)
{
	size_t	 k, room;
	int	 idle = 0;

	while (n > 0 || IN.len > 0) {
		room = buf_room(&IN);
		k = n < room ? n : room;
		if (k > 0)
			buf_put(&IN, s, k);
		s += k;
		n -= k;
		proxy_client(&P, &IN, &TOCHILD, &TOCLIENT);
		if (TOCHILD.len > 0) {
			if (*got + TOCHILD.len > fwdlen ||
			    memcmp(fwd + *got, buf_data(&TOCHILD),
			    TOCHILD.len) != 0) {
				FAIL("forwarded bytes differ at offset %zu: "
				    "\"%s\"", *got, esc(buf_data(&TOCHILD),
				    TOCHILD.len));
				return -1;
			}
			*got += TOCHILD.len;
			buf_drop(&TOCHILD, TOCHILD.len);
			idle = 0;
		} else if (k == 0 && ++idle > 2)
			return 0;	/* the proxy holds the rest */
	}
	return 0;
}

static void
t_px_long_line(void)
{
	static char	 line[1 << 20];
	size_t		 i, got = 0;

	memset(line, 'A', sizeof(line));
	memcpy(line, "XYZZY", 5);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	rig(0, 1, 0, 0);
	GREET();
	for (i = 0; i < sizeof(line); i += BUFSZ) {
		CHECK(client_n(line + i, BUFSZ) == 0);
		CHECK_INT(IN.len, 0);
		if (!buf_is(&TOCHILD, line + i, BUFSZ, "TOCHILD", __LINE__))
			return;
		got += TOCHILD.len;
		buf_drop(&TOCHILD, TOCHILD.len);
		EXPECT_EMPTY(TOCLIENT);
	}
	CHECK_INT(got, sizeof(line));
	CHECK_INT(P.ntags, 1);
	SERVER("250 ok\r\n");
	EXPECT(TOCLIENT, "250 ok\r\n");
	CHECK_INT(P.ntags, 0);
	CLIENT("STARTTLS\r\n");
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}
UNIT(t_px_long_line, "proxy 1 MiB line forwarded whole, one reply");

/* the same, not aligned with the buffer, and pipelined with NOOP */
static void
t_px_long_line_unaligned(void)
{
	static char	 in[(1 << 20) + 32], line[1 << 20];
	size_t		 got = 0;
	size_t		 n;

	memset(line, 'B', sizeof(line));
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	memcpy(in, "NOOP\r\n", 6);
	memcpy(in + 6, line, sizeof(line));
	memcpy(in + 6 + sizeof(line), "STARTTLS\r\n", 10);
	n = 6 + sizeof(line) + 10;
	rig(0, 1, 0, 0);
	GREET();
	if (pump_client(in, n, in, 6 + sizeof(line), &got) == -1)
		return;
	CHECK_INT(got, 6 + sizeof(line));
	CHECK_INT(P.ntags, 2);
	EXPECT_EMPTY(TOCLIENT);
	SERVER("250 ok\r\n502 unimplemented (#5.5.1)\r\n");
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "250 ok\r\n502 unimplemented (#5.5.1)\r\n"
	    "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}
UNIT(t_px_long_line_unaligned,
    "proxy 1 MiB line unaligned and pipelined");

/* a 1 MiB STARTTLS line with an argument: one 501, nothing forwarded */
static void
t_px_long_starttls(void)
{
	static char	 line[1 << 20];
	size_t		 got = 0;

	memset(line, 'C', sizeof(line));
	memcpy(line, "STARTTLS ", 9);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	rig(0, 1, 0, 0);
	GREET();
	if (pump_client(line, sizeof(line), "", 0, &got) == -1)
		return;
	CHECK_INT(got, 0);
	EXPECT(TOCLIENT, "501 Syntax error (no parameters allowed) (#5.5.4)\r\n");
	CHECK_INT(P.ntags, 0);
	CLIENT("NOOP\r\n");
	EXPECT(TOCHILD, "NOOP\r\n");
}
UNIT(t_px_long_starttls, "proxy 1 MiB STARTTLS line is one 501");

/* more pipelined commands than tags: all replies matched, in order */
static void
t_px_many_pipelined(void)
{
	enum { N = 3000 };
	static char	 cmds[N * 6 + 10];
	size_t		 i, ncmd = 0, nrep = 0, n, k;
	const char	*d;
	int		 rounds = 0;

	for (i = 0; i < N; i++)
		memcpy(cmds + i * 6, "NOOP\r\n", 6);
	memcpy(cmds + N * 6, "STARTTLS\r\n", 10);
	rig(0, 1, 0, 0);
	GREET();
	n = sizeof(cmds);
	d = cmds;
	while (nrep < N && rounds++ < 10000) {
		k = buf_room(&IN) < n ? buf_room(&IN) : n;
		buf_put(&IN, d, k);
		d += k;
		n -= k;
		proxy_client(&P, &IN, &TOCHILD, &TOCLIENT);
		CHECK(P.ntags < PROXY_MAXTAGS);
		for (i = 0; i < TOCHILD.len; i++)
			if (buf_data(&TOCHILD)[i] == '\n')
				ncmd++;
		buf_drop(&TOCHILD, TOCHILD.len);
		/* the server answers whatever it has read so far */
		while (nrep < ncmd && buf_puts(&CHOUT, "250 ok\r\n") == 0) {
			proxy_child(&P, &CHOUT, &TOCLIENT);
			if (!buf_is(&TOCLIENT, "250 ok\r\n", 8, "TOCLIENT",
			    __LINE__))
				return;
			buf_drop(&TOCLIENT, TOCLIENT.len);
			nrep++;
		}
	}
	CHECK_INT(ncmd, N);
	CHECK_INT(nrep, N);
	CHECK_INT(P.ntags, 0);
	CLIENT_AGAIN();
	EXPECT(TOCLIENT, "220 ready for tls\r\n");
	STATE(PROXY_STARTTLS);
}
UNIT(t_px_many_pipelined,
    "proxy 3000 pipelined commands all answered in order");

/* QUIT: no more commands after it */
static void
t_px_quit(void)
{
	rig(0, 1, 0, 0);
	GREET();
	CLIENT("QUIT\r\nSTARTTLS\r\n");
	EXPECT(TOCHILD, "QUIT\r\n");
	STATE(PROXY_QUIT);
	SERVER("221 host\r\n");
	EXPECT(TOCLIENT, "221 host\r\n");
	CLIENT_AGAIN();
	EXPECT_EMPTY(TOCLIENT);
	EXPECT_EMPTY(TOCHILD);
}
UNIT(t_px_quit, "proxy QUIT ends commands");
