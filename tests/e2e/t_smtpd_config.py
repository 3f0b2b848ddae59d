"""What configures starttls-smtpd and what it passes on: UCSPITLS from
tcprules, the ciphers (control/tlsserverciphers, $TLSCIPHERS, the
default), the control directory (-c, $STARTTLS_CONTROLDIR), usage
errors, and the environment qmail-smtpd gets (SSL_*, the SNI name,
nothing of ours and nothing forged from outside).
"""
import os
import ssl

from lib import (collector, Client, Server, expect, expect_eq, expect_in,
                 expect_not_in, run, SMTPD, STANDIN)
from smtpd_helpers import last_session_env, tls_session

TESTS, test = collector()


@test
def environment_hygiene():
    env = {"SMTPS": "", "UCSPITLS": "", "TLSCIPHERS": "HIGH",
           "SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_S_DN_Email":
           "good@example.com"}
    with Server(env=env) as srv:
        tls_session(srv, "client2", rcpt=b"u@example.org")
        srv.idle()
        plain, tls = srv.sessions()
        pe, te = srv.senv(plain), srv.senv(tls)
        for var in ("RELAYCLIENT", "SMTPS", "UCSPITLS", "TLSCIPHERS",
                    "STARTTLS_CONTROLDIR", "SSL_CLIENT_VERIFY",
                    "SSL_CLIENT_S_DN_Email", "RBLSMTPD"):
            expect(var not in pe, "plaintext server got " + var)
        for var in ("RELAYCLIENT", "SMTPS", "UCSPITLS", "TLSCIPHERS",
                    "STARTTLS_CONTROLDIR"):
            expect(var not in te, "TLS server got " + var)
        expect_eq(te["SSL_CLIENT_VERIFY"], "SUCCESS", "client2 verifies")
        expect_eq(te["SSL_CLIENT_S_DN_Email"], "other@example.com",
                  "our value, not the one from outside")
        expect_eq(pe.get("TCPREMOTEIP"), "127.0.0.1", "tcpserver's env kept")
        expect_eq(te.get("TCPREMOTEIP"), "127.0.0.1", "tcpserver's env kept")


@test
def tls_required_but_unavailable_defers():
    """UCSPITLS=! and no usable certificate: our fault, so 454, not 530."""
    with Server(control={"servercert.pem": None},
                rules='127.0.0.1:allow,UCSPITLS="!"\n') as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        expect_eq(c.cmd(b"MAIL FROM:<a@b.org>"),
                  b"454 TLS not available (#4.7.0)\r\n", "MAIL")
        c.close()


@test
def usage_errors_exit_100():
    for argv in ([SMTPD], [SMTPD, "-t", "x", STANDIN], [SMTPD, "-Z", STANDIN],
                 [SMTPD, "-T", "0", STANDIN]):
        p = run(argv, input=b"")
        expect_eq(p.returncode, 100, "exit of %r" % argv)
        expect_in(b"usage: starttls-smtpd", p.stderr, "usage text")


@test
def ucspitls_via_tcprules():
    rules = '127.0.0.1:allow,UCSPITLS="!"\n:allow\n'
    with Server(rules=rules) as srv:
        c = Client(srv.port)
        c.reply()
        expect_in(b"STARTTLS", c.cmd(b"EHLO x"), "offered")
        for cmd in (b"MAIL FROM:<a@b.org>", b"RCPT TO:<u@example.org>",
                    b"DATA"):
            expect_eq(c.cmd(cmd), b"530 Must issue a STARTTLS command first "
                      b"(#5.7.0)\r\n", cmd.decode())
        expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "STARTTLS")
        c.starttls()
        c.cmd(b"EHLO x")
        expect(c.cmd(b"MAIL FROM:<a@b.org>").startswith(b"250"), "after TLS")
        c.close()
        srv.idle()
        expect_not_in(b"MAIL", srv.sin(srv.sessions()[0]),
                      "MAIL reached qmail before TLS")
    rules = '127.0.0.1:allow,UCSPITLS="-"\n:allow\n'
    with Server(rules=rules) as srv:
        c = Client(srv.port)
        c.reply()
        expect_not_in(b"STARTTLS", c.cmd(b"EHLO x"), "pure relay")
        expect_eq(c.cmd(b"STARTTLS"), b"502 unimplemented (#5.5.1)\r\n",
                  "qmail-smtpd answers STARTTLS itself")
        c.close()
        srv.idle()
        expect_eq(len(srv.sessions()), 1, "one server")
        expect("UCSPITLS" not in srv.senv(srv.sessions()[0]), "consumed")


@test
def ciphers_from_control_and_environment():
    cipher = "ECDHE-RSA-AES128-GCM-SHA256"
    with Server(control={"tlsserverciphers": cipher + "\n"}) as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        s = c.starttls(version="1.2")
        expect_eq(s.cipher()[0], cipher, "cipher from tlsserverciphers")
        c.close()
    with Server(env={"TLSCIPHERS": "ECDHE-RSA-CHACHA20-POLY1305"}) as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        s = c.starttls(version="1.2")
        expect_eq(s.cipher()[0], "ECDHE-RSA-CHACHA20-POLY1305", "TLSCIPHERS")
        c.close()


@test
def default_ciphers_are_aead_with_forward_secrecy():
    """TLS 1.2 without tlsserverciphers: no CBC, no static RSA."""
    with Server() as srv:
        for cipher, ok in (("ECDHE-RSA-AES128-SHA256", False),
                           ("AES128-GCM-SHA256", False),
                           ("ECDHE-RSA-AES256-GCM-SHA384", True)):
            c = Client(srv.port, timeout=3)
            c.reply()
            c.cmd(b"STARTTLS")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(cipher)
            try:
                s = ctx.wrap_socket(c.sock)
                got = s.cipher()[0]
                s.close()               # it owns the descriptor now
            except ssl.SSLError:
                got = None
            expect_eq(got == cipher, ok, cipher)
            c.close()


@test
def testssl_reports_nothing_weak():
    """testssl.sh --starttls smtp on the default configuration: no
    vulnerability and nothing weak.  It takes minutes: run it with
    STARTTLS_SLOW=1 (make check-slow).  Findings about the throw-away
    test certificate itself (its CA, lifetime, missing CRL/OCSP URI,
    DNS CAA record) are not about starttls-smtpd and are left out."""
    if not os.environ.get("STARTTLS_SLOW"):
        return "skip"
    import json
    with Server() as srv:
        out = os.path.join(srv.dir, "testssl.json")
        p = run(["testssl", "--quiet", "--color", "0", "--warnings", "off",
                 "--starttls", "smtp", "--jsonfile", out,
                 "127.0.0.1:%d" % srv.port], timeout=900)
        found = json.load(open(out))
        expect(len(found) > 50, "testssl ran: %s" % p.stdout[-500:])
        bad = [f for f in found
               if f.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
               and not f["id"].startswith("cert_")
               and f["id"] != "DNS_CAArecord"]
        expect_eq(["%s: %s" % (f["id"], f["finding"]) for f in bad], [],
                  "testssl findings")


@test
def sni_logged_and_exported():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        c.starttls(sni="localhost")
        c.cmd(b"EHLO x")
        c.cmd(b"QUIT")
        c.close()
        env = last_session_env(srv)
        expect_eq(env.get("SSL_TLS_SNI_SERVERNAME"), "localhost", "SNI env")
        expect_in("sni=localhost", srv.ourlog(), "SNI log")


@test
def control_directory_option_beats_environment():
    srv = Server(env={"STARTTLS_CONTROLDIR": "/nonexistent"})
    srv.chain = [SMTPD, "-c", srv.control, STANDIN]
    with srv:
        c = Client(srv.port)
        c.reply()
        expect_in(b"STARTTLS", c.cmd(b"EHLO x"), "-c wins")
        c.close()
    with Server(env={"STARTTLS_CONTROLDIR": "/nonexistent"}) as srv:
        c = Client(srv.port)
        c.reply()
        expect_not_in(b"STARTTLS", c.cmd(b"EHLO x"), "environment used")
        c.close()
        srv.idle()
        expect_in("unable to read servercert.pem", srv.ourlog(), "log")
