"""Interoperability with real peers: Debian's Postfix as the server that
starttls-remote delivers to and as the client that delivers through
starttls-smtpd, and GnuTLS clients (msmtp, gnutls-cli) against
starttls-smtpd.

Each Postfix is a throwaway instance of its own (tests/e2e/postfix.py) on a
free port of 127.0.0.1, started and stopped inside its test.  Without
root or without the postfix package these tests are skipped, as are the
GnuTLS ones without msmtp or gnutls-cli.
"""
import contextlib
import os
import shutil
import subprocess

import postfix
from lib import (collector, WORK, Fail, Server, cert, expect, expect_eq,
                 expect_in, expect_not_in, wait_for)
from peers import QmailHome, names, remote

TESTS, test = collector()


def routed(port, host="127.0.0.1", **kw):
    return QmailHome(routes=["example.org:%s:%d" % (host, port)], **kw)


def by_name(port, **kw):
    """Routed to "localhost" with tlshosts/localhost.pem: TLS required,
    the server certificate verified against the test CA (needs names())."""
    home = routed(port, host="localhost", **kw)
    home.put("tlshosts/localhost.pem", open(cert("ca.pem")).read())
    return home


def msg(subject):
    return ("Subject: %s\nFrom: s@sender.example\n\nhello from %s\n"
            ".a line with a dot\n" % (subject, subject)).encode()


def tail(text, n=30):
    return "\n".join(text.splitlines()[-n:])


@contextlib.contextmanager
def running(main=None, relayhost=None):
    """A started Postfix; a failing check gets the end of its log."""
    pf = postfix.Postfix(main, relayhost)
    pf.start()
    try:
        yield pf
    except Fail as e:
        raise Fail("%s\n--- Postfix log (%s):\n%s" % (e, pf.logpath,
                                                      tail(pf.log())))
    finally:
        pf.stop()


def ecdsa_chain():
    return "%s, %s" % postfix.ecdsa_cert()


def received(m):
    """The first Received header of a delivered message, unfolded."""
    head = m.split(b"\n\n", 1)[0].decode("latin-1")
    at = head.index("\nReceived: ")
    lines = [head[at + 1:].split("\n", 1)[0]]
    for line in head[at + 1:].split("\n")[1:]:
        if not line.startswith(("\t", " ")):
            break
        lines.append(line.strip())
    return " ".join(lines)


def deliver(pf, home, subject, env=None):
    """starttls-remote to Postfix; the report and the message delivered."""
    r = remote(home, "example.org", "s@sender.example", ["u@example.org"],
               msg(subject), env=env)
    expect(r.complete and r.status == 0, "incomplete report %r" % r)
    expect(r.final.startswith("K"), "report %r" % r.final)
    expect_eq(r.rspawn()[0], "K", "qmail-rspawn's letter")
    expect(pf.wait_mailbox(1, 15), "nothing delivered; report %r" % r.final)
    box = pf.mailbox()
    expect_eq(len(box), 1, "messages delivered")
    expect_in(("hello from %s\n.a line" % subject).encode(), box[0],
              "body, dot unstuffed")
    return r, box[0]


def nothing_delivered(pf):
    # a message that got in would be in the mailbox within milliseconds;
    # Postfix logs "removed" once it is done with one
    wait_for(lambda: "removed" in pf.log(), 1)
    expect_eq(pf.mailbox(), [], "messages delivered")
    expect_not_in("status=sent", pf.log(), "Postfix log")


# ------------------------------------------- starttls-remote -> Postfix

@test
def postfix_server_tls12_only():
    if postfix.available():
        return "skip"
    only12 = ">=TLSv1.2, <=TLSv1.2"
    with running({"smtpd_tls_protocols": only12,
                  "smtpd_tls_mandatory_protocols": only12}) as pf:
        r, m = deliver(pf, routed(pf.port), "tls12")
        expect_in("\nTLS TLSv1.2 with ", r.final, "K report")
        expect_in("(using TLSv1.2 with cipher ", received(m),
                  "Postfix's Received header")


@test
def postfix_server_tls13_only():
    if postfix.available():
        return "skip"
    with running({"smtpd_tls_protocols": ">=TLSv1.3",
                  "smtpd_tls_mandatory_protocols": ">=TLSv1.3"}) as pf:
        r, m = deliver(pf, routed(pf.port), "tls13")
        expect_in("\nTLS TLSv1.3 with TLS_", r.final, "K report")
        expect_in("(using TLSv1.3 with cipher ", received(m),
                  "Postfix's Received header")


@test
def postfix_server_ecdsa_certificate_verified():
    """A P-256 server certificate, verified by name (tlshosts)."""
    if postfix.available():
        return "skip"
    with running({"smtpd_tls_chain_files": ecdsa_chain()}) as pf:
        r, m = deliver(pf, by_name(pf.port), "ecdsa", env=names())
        expect_in("server certificate verified.", r.final, "K report")
        expect_in("server-signature ECDSA (prime256v1)", received(m),
                  "Postfix's Received header")


def req_ccert():
    return {"smtpd_tls_security_level": "encrypt",
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_req_ccert": "yes",
            "smtpd_tls_CAfile": cert("ca.pem")}


@test
def postfix_req_ccert_without_clientcert_defers_with_its_text():
    """Postfix answers inside TLS with "421 4.7.1 ... Error: No client
    certificate presented": a deferral that says so, never a bounce."""
    if postfix.available():
        return "skip"
    with running(req_ccert()) as pf:
        r = remote(routed(pf.port), "example.org", "s@sender.example",
                   ["u@example.org"], msg("req_ccert"))
        expect(pf.wait_log("No client certificate presented", 5),
               "Postfix did not refuse the session for want of a client "
               "certificate (test set-up)")
        expect(r.complete and r.status == 0, "incomplete report %r" % r)
        expect_eq(r.rspawn()[0], "Z", "qmail-rspawn's letter for %r" % r.raw)
        expect(r.final.startswith("Z"), "report %r" % r.final)
        expect_in("No client certificate presented", r.final, "report")
        nothing_delivered(pf)


@test
def postfix_req_ccert_with_clientcert_delivers_verified():
    """control/clientcert.pem presented and verified by Postfix; Postfix's
    certificate verified by us (tlshosts/localhost.pem)."""
    if postfix.available():
        return "skip"
    with running(req_ccert()) as pf:
        home = by_name(pf.port, control={
            "clientcert.pem": open(cert("client-combined.pem")).read()})
        r, m = deliver(pf, home, "clientcert", env=names())
        expect_in("server certificate verified.", r.final, "K report")
        rec = received(m)
        expect_in('(Client CN "good client", Issuer "starttls test CA" '
                  '(verified OK))', rec, "Postfix's Received header")
        expect_in("Trusted TLS connection established from localhost",
                  pf.log(), "Postfix log")


@test
def postfix_encrypt_failed_handshake_530_defers():
    """Postfix demands TLS (encrypt) and the handshake fails (Postfix has
    only an ECDSA certificate and TLS 1.2; we offer only an RSA suite).
    The plaintext retry meets "530 5.7.0 Must issue a STARTTLS command
    first": a TLS condition, deferred (Z), never a bounce (D)."""
    if postfix.available():
        return "skip"
    only12 = ">=TLSv1.2, <=TLSv1.2"
    with running({"smtpd_tls_security_level": "encrypt",
                  "smtpd_tls_chain_files": ecdsa_chain(),
                  "smtpd_tls_protocols": only12,
                  "smtpd_tls_mandatory_protocols": only12}) as pf:
        home = routed(pf.port, control={
            "tlsclientciphers": "ECDHE-RSA-AES128-GCM-SHA256\n"})
        r = remote(home, "example.org", "s@sender.example",
                   ["u@example.org"], msg("encrypt"))
        expect(pf.wait_log("no shared cipher", 5),
               "the handshake did not fail for want of a shared cipher "
               "(test set-up)")
        expect(pf.wait_log("mail=0/1", 5),
               "no plaintext retry reached MAIL")
        expect(r.complete and r.status == 0, "incomplete report %r" % r)
        expect_eq(r.rspawn()[0], "Z", "qmail-rspawn's letter for %r" % r.raw)
        expect(r.final.startswith("Z"), "report %r" % r.final)
        expect_in("530 5.7.0 Must issue a STARTTLS command first", r.final,
                  "report")
        expect_in("TLS handshake failed", r.final, "report")
        nothing_delivered(pf)


# ------------------------------------------- Postfix -> starttls-smtpd

def relay_through(main, rcpt, subject, relayname="127.0.0.1"):
    """A Postfix client relaying one message to a fresh starttls-smtpd at
    [relayname]:port.  Returns (the message as the stand-in got it:
    sender, recipients, text; the stand-in's environment; Postfix's log)."""
    with Server() as srv:
        with running(main, relayhost="[%s]:%d" % (relayname,
                                                  srv.port)) as pf:
            pf.send("a@client.example", [rcpt], msg(subject))
            expect(pf.wait_log("status=", 15),
                   "Postfix did not try to deliver")
            expect_in("status=sent", pf.log(), "Postfix log")
            expect(wait_for(lambda: srv.messages(), 5), "nothing arrived")
            log = pf.log()
        srv.idle()
        msgs = srv.messages()
        expect_eq(len(msgs), 1, "messages arrived")
        return msgs[0], srv.senv(srv.sessions()[-1]), log


@test
def postfix_client_may_uses_starttls():
    if postfix.available():
        return "skip"
    m, env, log = relay_through({"smtp_tls_security_level": "may"},
                                "u@example.org", "client may")
    expect_eq(m[1], ["u@example.org"], "recipients")
    expect_in(b"hello from client may\n", m[2], "body")
    expect_in(env.get("SSL_PROTOCOL", ""), ("TLSv1.2", "TLSv1.3"),
              "SSL_PROTOCOL")
    expect("TLS connection established to 127.0.0.1" in log,
           "Postfix log says TLS")
    expect("RELAYCLIENT" not in env, "no RELAYCLIENT without a certificate")


@test
def postfix_client_encrypt():
    if postfix.available():
        return "skip"
    m, env, log = relay_through({"smtp_tls_security_level": "encrypt"},
                                "u@example.org", "client encrypt")
    expect_eq(m[1], ["u@example.org"], "recipients")
    expect_eq(env.get("SSL_PROTOCOL"), "TLSv1.3", "SSL_PROTOCOL")
    expect_in("TLS connection established to 127.0.0.1", log, "Postfix log")


@test
def postfix_client_verify_by_name():
    """smtp_tls_security_level = verify: Postfix checks our server
    certificate against the test CA and the name "localhost"."""
    if postfix.available():
        return "skip"
    m, env, log = relay_through({"smtp_tls_security_level": "verify"},
                                "u@example.org", "client verify",
                                relayname="localhost")
    expect_in("Verified TLS connection established to localhost", log,
              "Postfix log")
    expect(env.get("SSL_PROTOCOL"), "SSL_PROTOCOL set")


@test
def postfix_client_tls12_only():
    if postfix.available():
        return "skip"
    only12 = ">=TLSv1.2, <=TLSv1.2"
    m, env, log = relay_through({"smtp_tls_security_level": "encrypt",
                                 "smtp_tls_protocols": only12,
                                 "smtp_tls_mandatory_protocols": only12},
                                "u@example.org", "client tls12")
    expect_eq(env.get("SSL_PROTOCOL"), "TLSv1.2", "SSL_PROTOCOL")
    expect_in("TLSv1.2 with cipher", log, "Postfix log")


@test
def postfix_client_certificate_relays():
    """Postfix presents the client certificate (good@example.com, listed in
    tlsclients): relaying to a foreign domain is granted."""
    if postfix.available():
        return "skip"
    m, env, log = relay_through({"smtp_tls_security_level": "encrypt",
                                 "smtp_tls_cert_file": cert("client.pem"),
                                 "smtp_tls_key_file": cert("client.key")},
                                "far@foreign.net", "client certificate")
    expect_eq(m[1], ["far@foreign.net"], "relayed")
    expect_in(b"(good@example.com@127.0.0.1)", m[2],
              "Received line names the certificate")
    expect_eq(env.get("RELAYCLIENT"), "", "RELAYCLIENT")
    expect_eq(env.get("TCPREMOTEINFO"), "good@example.com", "TCPREMOTEINFO")
    expect_eq(env.get("SSL_CLIENT_VERIFY"), "SUCCESS", "SSL_CLIENT_VERIFY")


# ----------------------------------------------- GnuTLS -> starttls-smtpd

def msmtp(port, rcpt, subject, extra=()):
    rc = os.path.join(WORK, "msmtprc")     # not ~/.msmtprc nor /etc's
    if not os.path.exists(rc):
        with open(rc, "w") as f:
            f.write("# empty\n")
        os.chmod(rc, 0o600)
    return subprocess.run(
        ["msmtp", "--file=" + rc, "--host=127.0.0.1", "--port=%d" % port,
         "--tls=on", "--tls-starttls=on", "--tls-trust-file=" + cert("ca.pem"),
         "--tls-host-override=localhost", "--auth=off",
         "--domain=msmtp.test", "--from=a@client.example", "--timeout=10"] +
        list(extra) + ["--", rcpt],
        input=msg(subject).replace(b"\n", b"\r\n"), capture_output=True,
        timeout=30)


def no_msmtp():
    return shutil.which("msmtp") is None


@test
def msmtp_gnutls_starttls_tls12_and_tls13():
    if no_msmtp():
        return "skip"
    for version in ("TLS1.2", "TLS1.3"):
        with Server() as srv:
            p = msmtp(srv.port, "u@example.org", "msmtp " + version,
                      ["--tls-priorities=NORMAL:-VERS-ALL:+VERS-" + version])
            expect_eq(p.returncode, 0, "msmtp %s exit: %s" % (
                version, p.stderr.decode(errors="replace")[-600:]))
            srv.idle()
            msgs = srv.messages()
            expect_eq(len(msgs), 1, "messages")
            expect_in(("hello from msmtp %s" % version).encode(), msgs[0][2],
                      "body")
            env = srv.senv(srv.sessions()[-1])
            expect_eq(env.get("SSL_PROTOCOL"), "TLSv" + version[3:],
                      "SSL_PROTOCOL")
            expect("RELAYCLIENT" not in env, "no RELAYCLIENT")


@test
def msmtp_gnutls_client_certificate_relays():
    if no_msmtp():
        return "skip"
    with Server() as srv:
        p = msmtp(srv.port, "far@foreign.net", "msmtp certificate",
                  ["--tls-cert-file=" + cert("client.pem"),
                   "--tls-key-file=" + cert("client.key")])
        expect_eq(p.returncode, 0, "msmtp exit: " +
                  p.stderr.decode(errors="replace")[-600:])
        srv.idle()
        msgs = srv.messages()
        expect_eq(len(msgs), 1, "messages")
        expect_eq(msgs[0][1], ["far@foreign.net"], "relayed")
        expect_in(b"(good@example.com@127.0.0.1)", msgs[0][2],
                  "Received line names the certificate")
        env = srv.senv(srv.sessions()[-1])
        expect_eq(env.get("RELAYCLIENT"), "", "RELAYCLIENT")
        expect_eq(env.get("TCPREMOTEINFO"), "good@example.com",
                  "TCPREMOTEINFO")
        expect_in("relay granted to good@example.com", srv.ourlog(), "log")


@test
def gnutls_cli_starttls_tls13_priority():
    """gnutls-cli does the STARTTLS itself, verifies our certificate, then
    sends a pipelined SMTP transaction from its stdin; its priority string
    allows only TLS 1.3 with AES-128-GCM."""
    if shutil.which("gnutls-cli") is None:
        return "skip"
    script = (b"EHLO gnutls.test\r\nMAIL FROM:<g@gnutls.test>\r\n"
              b"RCPT TO:<u@example.org>\r\nDATA\r\nSubject: gnutls\r\n\r\n"
              b"hello from gnutls-cli\r\n.\r\nQUIT\r\n")
    with Server() as srv:
        p = subprocess.run(
            ["gnutls-cli", "--starttls-proto=smtp", "--port=%d" % srv.port,
             "--x509cafile=" + cert("ca.pem"),
             "--priority=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:"
             "+AES-128-GCM", "localhost"],
            input=script, capture_output=True, timeout=30)
        out = p.stdout.decode(errors="replace")
        expect_in("Handshake was completed", out, "gnutls-cli")
        expect_in("The certificate is trusted.", out, "gnutls-cli")
        srv.idle()
        msgs = srv.messages()
        expect_eq(len(msgs), 1, "messages: gnutls-cli said " + out[-600:])
        expect_in(b"hello from gnutls-cli", msgs[0][2], "body")
        env = srv.senv(srv.sessions()[-1])
        expect_eq(env.get("SSL_PROTOCOL"), "TLSv1.3", "SSL_PROTOCOL")
        expect_eq(env.get("SSL_CIPHER"), "TLS_AES_128_GCM_SHA256",
                  "SSL_CIPHER (as the priority string says)")
