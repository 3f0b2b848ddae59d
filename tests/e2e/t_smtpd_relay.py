"""Certificates and relaying in starttls-smtpd: a client certificate
listed in control/tlsclients grants RELAYCLIENT, any other (self-signed,
of an unknown CA, expired, revoked, unlisted, ...) is refused relaying
and still delivers to local domains; no relaying without TLS; a
servercert.pem that cannot be used; rblsmtpd in front of starttls-smtpd
and behind it.
"""
import os
import smtplib
import ssl

from lib import (collector, Client, Server, cert, expect, expect_eq, expect_in,
                 encrypted_key, expect_not_in, run)
from smtpd_helpers import EHLO_TLS, last_session_env, tls_session

TESTS, test = collector()


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
