"""starttls-smtpd between a client and qmail-smtpd: the plaintext
dialogue passed on as qmail-smtpd speaks it, with STARTTLS added to its
EHLO reply once, and the STARTTLS boundary: what was sent before the 220
and after it, STARTTLS inside DATA, RFC 3207's rules, lines and replies
of every shape, and a server behind that refuses after TLS.

The server behind is the qmail-smtpd stand-in
(tests/standins/qmail-smtpd-standin.c), which records what it saw, or
tests/standins/oddserver.py where it must misbehave.
"""
import socket

from lib import (collector, Client, Server, expect, expect_eq, expect_in,
                 expect_not_in, normalize, STANDIN)
from smtpd_helpers import EHLO_TLS

TESTS, test = collector()


@test
def plain_session_byte_identical():
    """Without STARTTLS, replies equal qmail-smtpd's but for one line."""
    script = (b"HELO a\r\nEHLO b\r\nNOOP\r\nVRFY x\r\nbogus\r\n"
              b"MAIL FROM:<s@x.org>\r\nRCPT TO:<r@example.org>\r\n"
              b"RCPT TO:<r@foreign.net>\r\nDATA\r\nSubject: x\r\n\r\n"
              b"..stuffed\r\n.\r\nRSET\r\nhelp\r\nQUIT\r\n")
    got = {}
    for name, chain in (("direct", ("STANDIN",)),
                        ("front", ("SMTPD", "STANDIN"))):
        with Server(chain) as srv:
            c = Client(srv.port)
            c.send(script)
            got[name] = normalize(c.rest(3))
            c.close()
    expect(got["direct"].count(b"\r\n") > 10, "direct transcript")
    expect_eq(got["front"].replace(b"250-STARTTLS\r\n", b"", 1),
              got["direct"], "transcript less the STARTTLS line")
    expect_eq(got["front"].count(b"STARTTLS"), 1, "STARTTLS lines")


@test
def ehlo_single_line_reply_gets_starttls():
    """rblsmtpd's one-line EHLO reply becomes a two-line one."""
    with Server(("SMTPD", "rblsmtpd", "STANDIN"),
                env={"RBLSMTPD": "blocked for the test"}) as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 rblsmtpd.local\r\n", "greeting")
        expect_eq(c.cmd(b"EHLO x"),
                  b"250-rblsmtpd.local\r\n250 STARTTLS\r\n", "EHLO")
        c.close()


@test
def starttls_not_advertised_twice():
    with Server(("SMTPD", "ODD", "--starttls")) as srv:
        c = Client(srv.port)
        c.reply()
        r = c.cmd(b"EHLO x")
        expect_eq(r.count(b"STARTTLS"), 1, "STARTTLS lines in " + repr(r))
        expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "STARTTLS")
        c.starttls()
        r = c.cmd(b"EHLO x")
        expect_not_in(b"STARTTLS", r, "post-TLS EHLO of a server that "
                      "advertises STARTTLS itself")
        expect(r.endswith(b"250 8BITMIME\r\n"), "last line " + repr(r))
        c.close()


@test
def injection_after_starttls_discarded():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<x@evil>\r\n")
        expect_eq(c.reply(), b"220 ready for tls\r\n", "STARTTLS")
        c.starttls()
        # nothing was answered for the injected commands inside TLS
        expect_eq(c.cmd(b"EHLO y"), EHLO_TLS, "first TLS reply")
        expect(c.cmd(b"RCPT TO:<u@example.org>").startswith(b"503 MAIL"),
               "injected MAIL must not exist")
        c.cmd(b"QUIT")
        c.close()
        srv.idle()
        seen = b"".join(srv.sin(p) for p in srv.sessions())
        expect_not_in(b"evil", seen, "servers behind saw the injection")
        expect_not_in(b"RSET", seen, "servers behind saw the injection")
        expect_in("discarded 26 bytes sent after STARTTLS", srv.ourlog(),
                  "log")


@test
def replies_queued_before_220_none_after():
    # a slow server: its EHLO reply is still coming when STARTTLS arrives
    with Server(("SMTPD", "ODD", "--delay", "0.3")) as srv:
        c = Client(srv.port)
        c.reply()
        c.send(b"EHLO x\r\nSTARTTLS\r\n")
        got = b""
        while not got.endswith(b"220 ready for tls\r\n"):
            chunk = c.sock.recv(4096)
            expect(chunk, "closed early: %r" % got)
            got += chunk
        expect(got.startswith(b"250-odd.example\r\n250-STARTTLS\r\n"),
               "EHLO reply before 220: %r" % got)
        # and not one plaintext byte after the 220
        c.sock.settimeout(0.5)
        try:
            extra = c.sock.recv(4096)
        except socket.timeout:
            extra = b""
        expect_eq(extra, b"", "plaintext after 220")
        c.sock.settimeout(10)
        c.starttls()
        expect_in(b"250 8BITMIME", c.cmd(b"EHLO x"), "TLS EHLO")
        c.close()


@test
def rfc3207_rules():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        expect_eq(c.cmd(b"STARTTLS now"),
                  b"501 Syntax error (no parameters allowed) (#5.5.4)\r\n",
                  "STARTTLS with argument")
        expect(c.cmd(b"MAIL FROM:<a@b.org>").startswith(b"250"), "MAIL")
        expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "STARTTLS")
        c.starttls()
        expect_eq(c.cmd(b"EHLO x"), EHLO_TLS, "no STARTTLS after TLS")
        expect_eq(c.cmd(b"RCPT TO:<u@example.org>"),
                  b"503 MAIL first (#5.5.1)\r\n", "MAIL did not survive")
        expect_eq(c.cmd(b"STARTTLS"), b"503 TLS already active (#5.5.1)\r\n",
                  "second STARTTLS")
        c.cmd(b"QUIT")
        c.close()
    # TLS unavailable: not advertised, 454, and the session goes on
    with Server(control={"servercert.pem": None}) as srv:
        c = Client(srv.port)
        c.reply()
        r = c.cmd(b"EHLO x")
        expect_not_in(b"STARTTLS", r, "advertised without a certificate")
        expect_eq(c.cmd(b"STARTTLS"), b"454 TLS not available (#4.7.0)\r\n",
                  "STARTTLS")
        _, done = c.mail(body=b"Subject: plain\r\n\r\nstill works\r\n")
        expect(done.startswith(b"250 ok"), "message after 454")
        c.close()
        srv.idle()
        expect_in("TLS not available: unable to read servercert.pem",
                  srv.ourlog(), "log")


@test
def starttls_inside_data_is_body():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"MAIL FROM:<a@b.org>")
        c.cmd(b"RCPT TO:<u@example.org>")
        # DATA and the body in one write, before the 354
        c.send(b"DATA\r\nSTARTTLS\r\nEHLO evil\r\n.\r\nNOOP\r\n")
        expect_eq(c.reply(), b"354 go ahead\r\n", "354")
        expect(c.reply().startswith(b"250 ok"), "message")
        expect_eq(c.reply(), b"250 ok\r\n", "NOOP after the message")
        c.close()
        expect_eq(srv.messages()[0][2].split(b"\n", 2)[2],
                  b"STARTTLS\nEHLO evil\n", "message body")


@test
def bare_lf_ends_session_no_starttls():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        _, done = c.mail(body=b"line one\nSTARTTLS\r\n")
        expect_eq(done, b"451 See https://cr.yp.to/docs/smtplf.html.\r\n",
                  "bare LF")
        expect_eq(c.rest(2), b"", "nothing after the 451 (no 220)")
        c.close()
        expect_eq(srv.messages(), [], "messages")


@test
def nul_bytes_and_huge_lines():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        # qmail: a NUL ends the verb and the line, so this is STARTTLS
        expect_eq(c.cmd(b"STARTTLS\x00junk"), b"220 ready for tls\r\n",
                  "STARTTLS\\0junk")
        c.starttls()
        c.cmd(b"EHLO x")
        huge = b"NOOP " + b"n" * (1 << 20)
        expect_eq(c.cmd(huge), b"250 ok\r\n", "1 MiB NOOP")
        expect_eq(c.cmd(b"X" * (1 << 20)), b"502 unimplemented (#5.5.1)\r\n",
                  "1 MiB unknown verb")
        expect_eq(c.cmd(b"STARTTLS " + b"a" * 200000),
                  b"503 TLS already active (#5.5.1)\r\n", "huge STARTTLS")
        c.cmd(b"MAIL FROM:<a\x00@b.org>")
        c.cmd(b"QUIT")
        c.close()
        srv.idle()
        seen = srv.sin(srv.sessions()[-1])
        expect_in(huge + b"\r\n", seen, "the whole 1 MiB line reached qmail")
        expect_in(b"MAIL FROM:<a\x00@b.org>\r\n", seen, "NUL passed on")


@test
def split_and_multiline_replies():
    with Server(("SMTPD", "ODD", "--split")) as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 odd.example ESMTP\r\n", "greeting")
        expect_eq(c.cmd(b"EHLO x"), b"250-odd.example\r\n250-STARTTLS\r\n"
                  b"250-PIPELINING\r\n250 8BITMIME\r\n", "split EHLO reply")
        expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "STARTTLS")
        c.starttls()
        expect_eq(c.cmd(b"EHLO x"), b"250-odd.example\r\n250-PIPELINING\r\n"
                  b"250 8BITMIME\r\n", "split EHLO reply after TLS")
        c.close()
    with Server(("SMTPD", "ODD", "--hugereply", "300000")) as srv:
        c = Client(srv.port)
        c.reply()
        r = c.cmd(b"NOOP")
        expect_eq(len(r), 300006, "reply larger than any buffer")
        expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "after it")
        c.close()


@test
def refused_greeting_after_tls_reaches_client():
    """rblsmtpd -t0 refuses at once; after TLS its refusal is the answer
    to the client's EHLO, and the session ends."""
    with Server(("SMTPD", "rblsmtpd", "-t", "0", "STANDIN"),
                env={"RBLSMTPD": "-listed"}) as srv:
        c = Client(srv.port)
        first = c.reply()
        expect(first.startswith(b"553 listed"), "plaintext refusal %r" % first)
        c.close()
    with Server(("SMTPD", "ODD", "--greeting", "421 odd.example closing")) \
            as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"421 odd.example closing\r\n", "plain greeting")
        c.close()


@test
def refused_greeting_after_tls_exact():
    script = ('if [ -n "$SSL_PROTOCOL" ]; then '
              'printf "554 no mail over TLS here\\r\\n"; exit 0; fi; '
              'exec "$0"')
    with Server(("SMTPD", "sh", "-c", script, STANDIN)) as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"STARTTLS")
        c.starttls()
        expect_eq(c.cmd(b"EHLO x"), b"554 no mail over TLS here\r\n",
                  "refusal as the EHLO reply")
        expect_eq(c.rest(3), b"", "then the end")
        c.close()
