"""End-to-end tests of starttls-smtpd: real tcpserver, rblsmtpd, swaks,
openssl s_client, curl and Python's smtplib, in front of the qmail-smtpd
stand-in (tests/standins/qmail-smtpd-standin.c), which records what it saw.
"""
import filecmp
import hashlib
import os
import random
import re
import smtplib
import socket
import ssl
import subprocess
import time

from lib import (collector, Client, Fail, Server, cert, expect, expect_eq,
                 expect_in, encrypted_key, expect_not_in, memory_holds,
                 normalize, pem_line, pids_of, run, wait_for, SMTPD, STANDIN)

TESTS, test = collector()


EHLO_PLAIN = (b"250-standin.example.org\r\n250-STARTTLS\r\n"
              b"250-PIPELINING\r\n250 8BITMIME\r\n")
EHLO_TLS = b"250-standin.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"


def tls_session(srv, certname=None, version=None, rcpt=b"u@example.org",
                body=b"Subject: t\r\n\r\nhello\r\n"):
    """STARTTLS, then one message; returns the client and the RCPT reply."""
    c = Client(srv.port)
    expect_eq(c.reply(), b"220 standin.example.org ESMTP\r\n", "greeting")
    expect_eq(c.cmd(b"EHLO client.example"), EHLO_PLAIN, "plain EHLO")
    expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "STARTTLS")
    c.starttls(certname, version)
    expect_eq(c.cmd(b"EHLO client.example"), EHLO_TLS, "TLS EHLO")
    r, done = c.mail(rcpt, body, sender=b"a@client.example")
    if done is not None:
        expect(done.startswith(b"250 ok"), "message accepted")
    expect_eq(c.cmd(b"QUIT"), b"221 standin.example.org\r\n", "QUIT")
    c.close()
    return r


def last_session_env(srv):
    srv.idle()
    return srv.senv(srv.sessions()[-1])


# ---------------------------------------------------------------- plaintext

# the value README and the manual give for softlimit -m in the run script
SOFTLIMIT = "12000000"


@test
def works_under_documented_softlimit():
    """qmail run scripts put the SMTP service under softlimit -m: a
    STARTTLS session with a client certificate and a plaintext session
    work under the documented value (both need about 10 MB here)."""
    import lib
    if os.environ.get("ASAN_OPTIONS") or lib.VALGRIND:
        return "skip"       # a sanitizer's or valgrind's own address space
    with Server(("softlimit", "-m", SOFTLIMIT, "SMTPD", "STANDIN")) as srv:
        r = tls_session(srv, "client", rcpt=b"far@foreign.net")
        expect(r.startswith(b"250"), "relayed under softlimit: %r" % r)
        c = Client(srv.port)
        c.reply()
        expect_eq(c.cmd(b"EHLO x"), EHLO_PLAIN, "plaintext EHLO")
        r, done = c.mail()
        expect(r.startswith(b"250"), "RCPT")
        expect(done.startswith(b"250 ok"), "plaintext message")
        c.cmd(b"QUIT")
        c.close()
        srv.idle()
        expect_eq(len(srv.messages()), 2, "messages")


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


# ---------------------------------------------------------------- clients

@test
def swaks_client_certificate_relays():
    with Server() as srv:
        p = run(["swaks", "-s", "127.0.0.1", "-p", str(srv.port), "--tls",
                 "--tls-cert", cert("client.pem"), "--tls-key",
                 cert("client.key"), "-f", "a@client.example",
                 "-t", "someone@foreign.net", "--helo", "client.example"])
        expect_eq(p.returncode, 0, "swaks exit: " + p.stdout.decode()[-800:])
        msgs = srv.messages()
        expect_eq(len(msgs), 1, "messages")
        expect_eq(msgs[0][1], ["someone@foreign.net"], "recipients")
        expect_in(b"(good@example.com@127.0.0.1)", msgs[0][2],
                  "Received line names the certificate")
        env = last_session_env(srv)
        expect_eq(env.get("RELAYCLIENT"), "", "RELAYCLIENT")
        expect_eq(env.get("TCPREMOTEINFO"), "good@example.com", "REMOTEINFO")
        expect_eq(env.get("SSL_CLIENT_VERIFY"), "SUCCESS", "VERIFY")
        expect_in("relay granted to good@example.com", srv.ourlog(), "log")


@test
def swaks_without_certificate_local_only():
    with Server() as srv:
        p = run(["swaks", "-s", "127.0.0.1", "-p", str(srv.port), "--tls",
                 "-f", "a@client.example", "-t", "someone@foreign.net"])
        expect(p.returncode != 0, "foreign recipient must be refused")
        expect_in(b"553 sorry, that domain isn't in my list of allowed "
                  b"rcpthosts (#5.7.1)", p.stdout, "swaks transcript")
        p = run(["swaks", "-s", "127.0.0.1", "-p", str(srv.port), "--tls",
                 "-f", "a@client.example", "-t", "u@example.org"])
        expect_eq(p.returncode, 0, "local delivery: " + p.stdout.decode())
        expect_eq(len(srv.messages()), 1, "messages")
        env = last_session_env(srv)
        expect("RELAYCLIENT" not in env, "no RELAYCLIENT")
        expect_eq(env.get("SSL_CLIENT_VERIFY"), "NONE", "VERIFY")


@test
def openssl_s_client_tls12_and_tls13():
    with Server() as srv:
        for version, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            p = run(["openssl", "s_client", "-connect",
                     "127.0.0.1:%d" % srv.port, "-starttls", "smtp",
                     "-CAfile", cert("ca.pem"), "-verify_return_error",
                     "-brief", "-crlf", "-ign_eof", "-nocommands", version],
                    input=b"EHLO x\nMAIL FROM:<a@b.org>\n"
                    b"RCPT TO:<u@example.org>\nDATA\n"
                    b"Subject: " + name.encode() + b"\n\nbody\n.\n"
                    b"QUIT\n")     # -crlf turns \n into \r\n
            out = p.stdout + p.stderr
            expect_in(b"Protocol version: " + name.encode(), out, "s_client")
            expect_in(b"Verification: OK", out, "server certificate")
            expect_in(b"250 ok", out, "message accepted")
        msgs = srv.messages()
        expect_eq(len(msgs), 2, "messages")
        expect_in(b"Subject: TLSv1.2", msgs[0][2], "first")
        srv.idle()
        expect_in("tls TLSv1.2 ", srv.ourlog(), "log")
        expect_in("tls TLSv1.3 ", srv.ourlog(), "log")


@test
def curl_ssl_reqd():
    with Server() as srv:
        msg = os.path.join(srv.dir, "msg")
        with open(msg, "wb") as f:
            f.write(b"Subject: curl\r\n\r\nsent by curl\r\n")
        p = run(["curl", "-sS", "--ssl-reqd", "--cacert", cert("ca.pem"),
                 "--url", "smtp://127.0.0.1:%d/client.example" % srv.port,
                 "--mail-from", "a@client.example", "--mail-rcpt",
                 "u@example.org", "--upload-file", msg])
        expect_eq(p.returncode, 0, "curl: " + p.stderr.decode())
        p = run(["curl", "-sS", "--ssl-reqd", "--cacert", cert("ca.pem"),
                 "--cert", cert("client.pem"), "--key", cert("client.key"),
                 "--url", "smtp://127.0.0.1:%d/client.example" % srv.port,
                 "--mail-from", "a@client.example", "--mail-rcpt",
                 "x@foreign.net", "--upload-file", msg])
        expect_eq(p.returncode, 0, "curl with certificate: " +
                  p.stderr.decode())
        msgs = srv.messages()
        expect_eq([m[1] for m in msgs], [["u@example.org"], ["x@foreign.net"]],
                  "recipients")
        expect_in(b"sent by curl", msgs[1][2], "body")


@test
def python_smtplib_starttls():
    with Server() as srv:
        ctx = ssl.create_default_context(cafile=cert("ca.pem"))
        ctx.load_cert_chain(cert("client.pem"), cert("client.key"))
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as s:
            s.ehlo("client.example")
            expect(s.has_extn("starttls"), "STARTTLS advertised")
            s.starttls(context=ctx)
            s.ehlo("client.example")
            expect(not s.has_extn("starttls"), "no STARTTLS after TLS")
            s.sendmail("a@client.example", ["x@foreign.net"],
                       b"Subject: smtplib\r\n\r\nhi\r\n")
        expect_eq(srv.messages()[0][1], ["x@foreign.net"], "relayed")


# ------------------------------------------------------- client certificates

def relay_attempt(certname, control=None):
    with Server(control=control) as srv:
        r = tls_session(srv, certname, rcpt=b"x@foreign.net")
        srv.idle()
        return r, last_session_env(srv), srv.ourlog(), srv


def expect_refused(certname, reason, control=None):
    r, env, log, srv = relay_attempt(certname, control)
    expect(r.startswith(b"553"), "%s: RCPT %r" % (certname, r))
    expect("RELAYCLIENT" not in env, certname + ": RELAYCLIENT set")
    expect("TCPREMOTEINFO" not in env, certname + ": TCPREMOTEINFO set")
    expect_in(reason, log, certname + " log")
    # the same client still delivers to a local domain
    with Server(control=control) as srv2:
        r = tls_session(srv2, certname)
        expect(r.startswith(b"250"), certname + ": local RCPT %r" % r)
        expect_eq(len(srv2.messages()), 1, certname + ": local message")
    return env


@test
def relay_refused_self_signed():
    env = expect_refused("selfsigned", "verify=failed: self-signed")
    expect(env["SSL_CLIENT_VERIFY"].startswith("FAILED:"), "VERIFY")


@test
def relay_refused_unknown_ca():
    expect_refused("otherca", "unable to get local issuer certificate")


@test
def relay_refused_expired():
    expect_refused("expired", "certificate has expired")


@test
def relay_refused_revoked():
    crl = open(cert("crl.pem")).read()
    expect_refused("revoked", "certificate revoked",
                   control={"clientcrl.pem": crl})
    # and without the CRL the same certificate relays: the CRL did it
    r, env, log, srv = relay_attempt("revoked")
    expect(r.startswith(b"250"), "revoked cert without CRL: %r" % r)


@test
def relay_refused_unlisted():
    expect_refused("client2", "relay not granted: other@example.com not in "
                   "tlsclients")


@test
def relay_refused_tricky_cn():
    """A CN that prints like an e-mail address is not one."""
    env = expect_refused("tricky", "certificate has no e-mail address")
    expect_eq(env.get("SSL_CLIENT_VERIFY"), "SUCCESS", "chain is fine")
    expect("SSL_CLIENT_S_DN_Email" not in env, "no address exported")


@test
def relay_refused_server_only_certificate():
    expect_refused("serveronly", "unsuitable certificate purpose")


@test
def relay_granted_case_insensitive_and_san():
    for certname, addr in (("upper", "Good@EXAMPLE.com"),
                           ("sanonly", "san@example.com")):
        r, env, log, srv = relay_attempt(certname)
        expect(r.startswith(b"250"), "%s: RCPT %r" % (certname, r))
        expect_eq(env.get("TCPREMOTEINFO"), addr, certname)


@test
def no_clientca_no_certificate_request():
    r, env, log, srv = relay_attempt("client",
                                     control={"clientca.pem": None})
    expect(r.startswith(b"553"), "RCPT %r" % r)
    expect_eq(env.get("SSL_CLIENT_VERIFY"), "NONE", "not asked")


@test
def unreadable_tlsclients_grants_nothing():
    with Server() as srv:
        os.chmod(os.path.join(srv.control, "tlsclients"), 0)
        if os.geteuid() == 0:
            # root reads anything: use a directory instead
            os.unlink(os.path.join(srv.control, "tlsclients"))
            os.mkdir(os.path.join(srv.control, "tlsclients"))
        r = tls_session(srv, "client", rcpt=b"x@foreign.net")
        expect(r.startswith(b"553"), "RCPT %r" % r)
        srv.idle()
        expect_in("relay not granted: unable to read tlsclients",
                  srv.ourlog(), "log")


# ------------------------------------------------------------- rblsmtpd

@test
def rblsmtpd_behind_lets_certificate_through():
    chain = ("SMTPD", "rblsmtpd", "STANDIN")
    env = {"RBLSMTPD": "you are listed"}
    with Server(chain, env=env) as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 rblsmtpd.local\r\n", "rblsmtpd greets")
        c.cmd(b"EHLO x")
        expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "STARTTLS")
        c.starttls("client")
        expect_eq(c.cmd(b"EHLO x"), EHLO_TLS, "qmail-smtpd after TLS")
        c.cmd(b"MAIL FROM:<a@b.org>")
        expect(c.cmd(b"RCPT TO:<x@foreign.net>").startswith(b"250"), "RCPT")
        c.cmd(b"QUIT")
        c.close()
    with Server(chain, env=env) as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"STARTTLS")
        c.starttls()            # no certificate: still listed
        expect_eq(c.cmd(b"EHLO x"), b"250 rblsmtpd.local\r\n", "EHLO")
        c.cmd(b"MAIL FROM:<a@b.org>")
        expect(c.cmd(b"RCPT TO:<u@example.org>").startswith(b"451 you are"),
               "blocked after TLS without certificate")
        c.close()


@test
def rblsmtpd_in_front_blocks_before_tls():
    chain = ("rblsmtpd", "SMTPD", "STANDIN")
    with Server(chain, env={"RBLSMTPD": "-go away"}) as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 rblsmtpd.local\r\n", "greeting")
        c.cmd(b"EHLO x")
        c.cmd(b"MAIL FROM:<a@b.org>")
        expect(c.cmd(b"RCPT TO:<u@example.org>").startswith(b"553 go away"),
               "blocked")
        c.close()
    with Server(chain, env={"RBLSMTPD": ""}) as srv:
        r = tls_session(srv, "client", rcpt=b"x@foreign.net")
        expect(r.startswith(b"250"), "not listed: relays with certificate")


# ------------------------------------ the STARTTLS boundary and parsing

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
def no_relay_without_tls_and_implicit_tls():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"MAIL FROM:<a@b.org>")
        expect(c.cmd(b"RCPT TO:<x@foreign.net>").startswith(b"553"),
               "plaintext relay refused")
        c.close()
    for how in ({"env": {"SMTPS": "1"}}, {"chain": ("SMTPD", "-s",
                                                     "STANDIN")}):
        with Server(**how) as srv:
            ctx = ssl.create_default_context(cafile=cert("ca.pem"))
            ctx.load_cert_chain(cert("client.pem"), cert("client.key"))
            with smtplib.SMTP_SSL("127.0.0.1", srv.port, context=ctx,
                                  timeout=10) as s:
                code, text = s.ehlo("x")
                expect(not s.has_extn("starttls"), "no STARTTLS on 465")
                s.sendmail("a@b.org", ["x@foreign.net"], b"Subject: 465\r\n"
                           b"\r\nimplicit\r\n")
                expect_eq(s.docmd("STARTTLS")[0], 503, "STARTTLS on 465")
            expect_eq(len(srv.messages()), 1, "relayed over implicit TLS")
            env = last_session_env(srv)
            expect("SMTPS" not in env, "SMTPS passed on")
            expect_eq(len(srv.sessions()), 1, "one server for implicit TLS")


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
def broken_server_certificates():
    """A servercert.pem that cannot be used: no TLS, and the log names
    what is wrong with it, with no stale system error.  What its PEM
    blocks show (no key, no certificate, an encrypted key) is found at
    the start and STARTTLS is not offered; what takes parsing (a corrupt
    key, a key of another certificate) is found when TLS is set up, at
    the client's STARTTLS, which gets 454 and goes on in plaintext."""
    key = open(cert("server.key")).read()
    crt = open(cert("server.pem")).read()
    for name, text, offered, why in (
            ("corrupt", "-----BEGIN PRIVATE KEY-----\nnonsense\n"
             "-----END PRIVATE KEY-----\n" + crt, True,
             "its private key cannot be parsed"),
            ("key only", key, False, "it holds no certificate, only a key"),
            ("certificate only", crt, False, "it holds no private key"),
            ("wrong key", open(cert("client.key")).read() + crt, True,
             "its private key does not belong to its first certificate"),
            ("encrypted", encrypted_key("server") + crt, False,
             "its private key is encrypted (has a passphrase)"),
            ("encrypted, traditional", encrypted_key("server", True) + crt,
             False, "its private key is encrypted (has a passphrase)")):
        with Server(control={"servercert.pem": text}) as srv:
            c = Client(srv.port)
            c.reply()
            ehlo = c.cmd(b"EHLO x")
            expect_eq(b"STARTTLS" in ehlo, offered, name + ": offered")
            expect_eq(c.cmd(b"STARTTLS"),
                      b"454 TLS not available (#4.7.0)\r\n", name)
            expect_not_in(b"STARTTLS", c.cmd(b"EHLO x"),
                          name + ": offered after a 454")
            expect_eq(c.cmd(b"STARTTLS"),
                      b"454 TLS not available (#4.7.0)\r\n", name + " again")
            # and the session goes on in plaintext
            c.cmd(b"MAIL FROM:<a@b.org>")
            expect(c.cmd(b"RCPT TO:<u@example.org>").startswith(b"250"),
                   name + ": RCPT after 454")
            c.cmd(b"QUIT")
            c.close()
            srv.idle()
            expect_in("TLS not available: unable to use servercert.pem: " +
                      why, srv.ourlog(), name + " log")
            for stale in ("No such file", "non-socket", "no start line"):
                expect_not_in(stale, srv.ourlog(), name + " log")


@test
def foreign_client_certificates_do_not_break_handshake():
    """Ordinary MTAs present their own certificates: the handshake must
    succeed and mail to local domains must flow."""
    for certname in ("selfsigned", "otherca", "expired", "serveronly"):
        with Server() as srv:
            p = run(["swaks", "-s", "127.0.0.1", "-p", str(srv.port),
                     "--tls", "--tls-cert", cert(certname + ".pem"),
                     "--tls-key", cert(certname + ".key"),
                     "-f", "a@b.org", "-t", "u@example.org"])
            expect_eq(p.returncode, 0, certname + ": " +
                      p.stdout.decode()[-500:])


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
def stalls_time_out():
    chain = ("SMTPD", "-t", "2", "-T", "2", "STANDIN")
    with Server(chain) as srv:
        # after 220 ready for tls: no ClientHello
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        t = time.time()
        expect_eq(c.rest(6), b"", "closed without a byte")
        expect(time.time() - t < 5, "handshake timeout")
        # mid-handshake: half a ClientHello
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        expect_eq(c.rest(6), b"", "closed mid-handshake")
        # mid-line in plaintext
        c = Client(srv.port)
        c.reply()
        c.send(b"EHL")
        expect_eq(c.rest(6), b"", "closed mid-line")
        srv.idle()
        log = srv.ourlog()
        expect_eq(log.count("TLS handshake timed out after 2 seconds"), 2,
                  "handshake timeouts: " + log)
        expect_in("timeout: nothing moved for 2 seconds", log, "idle")
        for pid in srv.sessions():
            expect(srv.sexit(pid) is not None, "server %d left behind" % pid)


@test
def thousands_of_pipelined_commands():
    with Server() as srv:
        c = Client(srv.port, timeout=30)
        c.reply()
        n = 5000
        c.send(b"NOOP\r\n" * n + b"QUIT\r\n")
        got = c.rest(10)
        expect_eq(got.count(b"250 ok\r\n"), n, "NOOP replies")
        expect(got.endswith(b"221 standin.example.org\r\n"), "QUIT last")


# --------------------------------------------------------- whole sessions

@test
def twenty_megabytes_8bit_byte_identical():
    rnd = random.Random(20)
    lines = []
    size = 0
    while size < 20 * 1000 * 1000:
        n = rnd.randint(1, 998)
        line = os.urandom(n).translate(bytes.maketrans(b"\r\n", b"ab"))
        lines.append(line)
        size += n + 2
    body = b"\r\n".join(lines) + b"\r\n"
    stuffed = re.sub(rb"(?m)^\.", b"..", body)
    expected = body.replace(b"\r\n", b"\n")
    with Server() as srv:
        c = Client(srv.port, timeout=60)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"STARTTLS")
        c.starttls()
        c.cmd(b"EHLO x")
        _, done = c.mail(body=stuffed)
        expect(done.startswith(b"250 ok"), "accepted")
        c.close()
        msg = srv.messages()[0][2]
        got = msg.split(b"\n", 2)[2]
        expect_eq(hashlib.sha256(got).hexdigest(),
                  hashlib.sha256(expected).hexdigest(), "message hash")


@test
def quit_closes_cleanly_and_status_follows_child():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"STARTTLS")
        s = c.starttls()
        c.cmd(b"EHLO x")
        expect_eq(c.cmd(b"QUIT"), b"221 standin.example.org\r\n", "QUIT")
        # a clean TLS close: close_notify, then EOF
        expect_eq(s.recv(100), b"", "EOF after QUIT")
        c.close()
        srv.idle()
        expect(re.search(r"tcpserver: end \d+ status 0", srv.log()),
               "exit status 0 after QUIT: " + srv.log())
        # a client that vanishes: the server behind goes away too
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"STARTTLS")
        c.starttls()
        c.cmd(b"EHLO x")
        c.s.close()         # no QUIT, no close_notify: just gone
        srv.idle()
        pid = srv.sessions()[-1]
        expect_eq(srv.sexit(pid), 1, "qmail-smtpd saw EOF")
        expect(re.search(r"tcpserver: end \d+ status 256", srv.log()),
               "status follows qmail-smtpd's exit 1: " + srv.log())


@test
def half_close_after_quit_gets_221():
    """A client that sends QUIT and shuts down its side still reads 221,
    in plaintext and over TLS."""
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.send(b"EHLO x\r\nQUIT\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        got = c.rest(3)
        expect(got.endswith(b"221 standin.example.org\r\n"), "plain %r" % got)
        c.close()
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        c.starttls()
        c.cmd(b"EHLO x")
        c.send(b"QUIT\r\n")
        expect_eq(c.reply(), b"221 standin.example.org\r\n", "TLS QUIT")
        c.close()
        srv.idle()
        for pid in srv.sessions():
            expect(srv.sexit(pid) is not None, "server %d left" % pid)


@test
def half_close_keeps_waiting_commands():
    """Whole lines still waiting when the client half-closes are answered:
    here STARTTLS x waits for the slow server's EHLO reply."""
    slow = ("SMTPD", "sh", "-c", 'sleep 0.5; exec "$0"', STANDIN)
    with Server(slow) as srv:
        c = Client(srv.port)
        c.send(b"EHLO x\r\nSTARTTLS x\r\nQUIT\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        got = c.rest(5)
        expect_in(b"501 Syntax error", got, "501 lost")
        expect(got.endswith(b"221 standin.example.org\r\n"), "221: %r" % got)
        c.close()
    with Server(slow, rules='127.0.0.1:allow,UCSPITLS="-"\n') as srv:
        c = Client(srv.port, timeout=30)
        body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 2000
        c.send(b"HELO x\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<u@example.org>\r\n"
               b"DATA\r\n" + body + b".\r\nQUIT\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        got = c.rest(10)
        expect(got.endswith(b"221 standin.example.org\r\n"), "221: %r" %
               got[-200:])
        expect_eq(len(srv.messages()), 1, "2 MB message after half-close")


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
def child_gets_default_sigpipe():
    """We ignore SIGPIPE; qmail-smtpd must not inherit that."""
    script = ('grep SigIgn /proc/self/status > "$STANDIN_RECORD/sig"; '
              'exec "$0"')
    with Server(("SMTPD", "sh", "-c", script, STANDIN)) as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"QUIT")
        c.close()
        srv.idle()
        mask = int(open(os.path.join(srv.rec, "sig")).read().split()[1], 16)
        expect(not mask & (1 << 12), "SIGPIPE ignored in the child: %x" %
               mask)


@test
def root_drops_privileges_after_reading_the_key():
    """Started as root (tcpserver without -u): the key, readable by root
    only, is loaded, then the relay and qmail-smtpd run as $UID/$GID."""
    if os.geteuid() != 0:
        return "skip"
    import pwd
    nobody = pwd.getpwnam("nobody")
    script = ('awk \'/^Uid/{print $2}\' /proc/$PPID/status '
              '> "$STANDIN_RECORD/uid.$$"; id -u >> "$STANDIN_RECORD/uid.$$"; '
              'exec "$0"')
    srv = Server(("SMTPD", "-U", "sh", "-c", script, STANDIN),
                 env={"UID": str(nobody.pw_uid), "GID": str(nobody.pw_gid)})
    srv.tcpopts = []                    # tcpserver runs us as root
    os.chmod(os.path.join(srv.control, "servercert.pem"), 0o600)
    with srv:
        r = tls_session(srv, "client", rcpt=b"x@foreign.net")
        expect(r.startswith(b"250"), "relay by certificate: %r" % r)
        srv.idle()
        uids = [open(os.path.join(srv.rec, f)).read().split()
                for f in os.listdir(srv.rec) if f.startswith("uid.")]
        expect_eq(len(uids), 2, "servers started")
        for relay, child in uids:
            expect_eq((relay, child), (str(nobody.pw_uid),) * 2,
                      "uids of starttls-smtpd and qmail-smtpd")
    # root with no user to become: refused
    srv = Server()
    srv.tcpopts = []
    with srv:
        c = Client(srv.port)
        expect_eq(c.rest(3), b"", "no greeting from a refusing front")
        c.close()
        srv.idle()
        expect_in("fatal: refusing to run as root", srv.ourlog(), "log")
        expect_in(" status 25600", srv.log(), "exit 100")


@test
def relay_is_narrowed_from_the_start():
    """The relay runs under its seccomp filter before it reads a byte from
    the client, in the plaintext phase, through the handshake and after;
    with TLS turned off too.  Neither qmail-smtpd inherits the filter: the
    plaintext one starts before it, the TLS one from the standby."""
    if not os.path.exists("/proc/self/status") or "Seccomp:" not in \
            open("/proc/self/status").read() or b"sandbox: seccomp" not in \
            run([SMTPD, "-V"]).stdout:
        return "skip"           # not Linux, or built with SECCOMP=0
    script = ('p=plain; [ -n "$SSL_PROTOCOL" ] && p=tls; sleep 0.3; '
              'grep ^Seccomp: /proc/$PPID/status > "$STANDIN_RECORD/relay-$p"; '
              'grep ^Seccomp: /proc/self/status > "$STANDIN_RECORD/child-$p"; '
              'exec "$0"')

    def mode(srv, name):
        return open(os.path.join(srv.rec, name)).read().split()[1]

    with Server(("SMTPD", "sh", "-c", script, STANDIN)) as srv:
        r = tls_session(srv, "client", rcpt=b"x@foreign.net")
        expect(r.startswith(b"250"), "session under the filter: %r" % r)
        srv.idle()
        for phase in ("plain", "tls"):
            expect_eq(mode(srv, "relay-" + phase), "2",
                      "relay's seccomp mode in the %s phase (2: filter)"
                      % phase)
            expect_eq(mode(srv, "child-" + phase), "0",
                      "%s qmail-smtpd's seccomp mode" % phase)
    with Server(("SMTPD", "sh", "-c", script, STANDIN),
                env={"UCSPITLS": "-"}) as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 standin.example.org ESMTP\r\n", "greeting")
        expect_eq(c.cmd(b"QUIT"), b"221 standin.example.org\r\n", "QUIT")
        c.close()
        srv.idle()
        expect_eq(mode(srv, "relay-plain"), "2", "relay without TLS")
        expect_eq(mode(srv, "child-plain"), "0", "qmail-smtpd without TLS")


@test
def server_key_wiped_once_loaded():
    """Mid-session, no PEM copy of servercert.pem's key is left in the
    relay's memory, while the certificate's still is (which shows the
    scan would find the key if it were there)."""
    pem = cert("servercert.pem")
    key, crt = pem_line(pem, "PRIVATE KEY"), pem_line(pem, "CERTIFICATE")
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"STARTTLS")
        c.starttls()
        expect_eq(c.cmd(b"EHLO x"), EHLO_TLS, "TLS EHLO")
        relays = pids_of(SMTPD)
        seen = [(memory_holds(p, crt), memory_holds(p, key)) for p in relays]
        c.cmd(b"QUIT")
        c.close()
    if not relays or seen[0][0] is None:
        return "skip"           # under valgrind, or memory not readable
    expect_eq(seen, [(True, False)] * len(relays),
              "(certificate, key) found in the relay's memory")


@test
def servers_behind_inherit_no_descriptor_of_ours():
    """Both qmail-smtpds start with fds 0, 1 and 2 only: not the standby's
    control socket, a pidfd, or the trust files opened before the filter
    (clientca.pem, clientcrl.pem, tlsclients), with or without STARTTLS,
    in implicit TLS too."""
    import lib

    def ours(pid):              # not valgrind's own log files
        return [f for f in srv.sfds(pid) if not lib.VALGRIND or
                lib.VALGRIND not in f]

    crl = {"clientcrl.pem": open(cert("emptycrl.pem")).read()}
    with Server(control=crl) as srv:
        r = tls_session(srv, "client", rcpt=b"x@foreign.net")
        expect(r.startswith(b"250"), "relayed: %r" % r)
        c = Client(srv.port)
        c.reply()
        expect_eq(c.cmd(b"QUIT"), b"221 standin.example.org\r\n", "QUIT")
        c.close()
        srv.idle()
        pids = srv.sessions()
        expect_eq(len(pids), 3, "servers started")
        for pid in pids:
            expect_eq(ours(pid), [], "extra descriptors of %d" % pid)
    with Server(control=crl, env={"SMTPS": "1"}) as srv:
        c = Client(srv.port)
        c.starttls("client")
        expect_eq(c.reply(), b"220 standin.example.org ESMTP\r\n", "greeting")
        c.close()
        srv.idle()
        for pid in srv.sessions():
            expect_eq(ours(pid), [], "extra descriptors (SMTPS)")


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


@test
def missing_program_gets_421():
    import lib
    if lib.VALGRIND:
        return "skip"   # under valgrind posix_spawn cannot report a failed exec
    with Server(("SMTPD", "/nonexistent/qmail-smtpd")) as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"421 unable to start SMTP service (#4.3.0)\r\n",
                  "reply")
        c.close()
        srv.idle()
        expect_in("fatal: unable to run /nonexistent/qmail-smtpd",
                  srv.ourlog(), "log")
        expect_in(" status 28416", srv.log(), "exit 111")


@test
def servers_run_programs_nobody_can_reach():
    """As root the servers run as nobody, who cannot reach a clone in
    root's home or in a mktemp -d directory (mode 700): what they run is
    copied out of the clone, a session runs those copies, and nobody can
    execute each of them."""
    import lib
    staged = (lib.SMTPD, lib.STANDIN, lib.QUEUE, lib.RECEIVED, lib.MEASURE,
              lib.ODD)
    for path in staged:
        expect_eq(os.path.dirname(path), lib.STAGED, "where it runs from")
        expect(not path.startswith(lib.TOP + os.sep) and
               not path.startswith(lib.BUILD + os.sep), path)
        # copies of $STARTTLS_BUILD's programs, where that is set
        if path != lib.ODD:
            expect(filecmp.cmp(path, os.path.join(
                lib.BUILD, os.path.basename(path)), shallow=False),
                "%s is not a copy of the build's" % path)
    with Server() as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 standin.example.org ESMTP\r\n",
                  "greeting")
        if not lib.VALGRIND:
            expect(wait_for(lambda: pids_of(SMTPD) and pids_of(STANDIN), 5),
                   "no session runs %s and %s" % (SMTPD, STANDIN))
        c.close()
    if not lib.AS_USER:
        return
    uid, gid = lib.AS_USER[1], lib.AS_USER[3]
    for path in staged:
        p = run(["setpriv", "--reuid=" + uid, "--regid=" + gid,
                 "--clear-groups", "test", "-x", path])
        expect_eq(p.returncode, 0, "can nobody execute %s" % path)


@test
def usage_errors_exit_100():
    for argv in ([SMTPD], [SMTPD, "-t", "x", STANDIN], [SMTPD, "-Z", STANDIN],
                 [SMTPD, "-T", "0", STANDIN]):
        p = run(argv, input=b"")
        expect_eq(p.returncode, 100, "exit of %r" % argv)
        expect_in(b"usage: starttls-smtpd", p.stderr, "usage text")


# ------------------------------------------------------------ policy

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
