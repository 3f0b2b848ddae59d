"""End-to-end tests of starttls-remote, run as qmail-rspawn runs it,
against aiosmtpd, scripted servers, starttls-smtpd itself, and dnsmasq.
"""
import hashlib
import os
import re
import socket
import ssl
import subprocess
import time

from lib import (collector, SMTPD, Server, cert, encrypted_key, expect,
                 expect_eq, expect_in, expect_not_in, memory_holds, pem_line,
                 pids_of, proc_status)
from peers import (REMOTE, Aiosmtpd, Dnsmasq, QmailHome, Scripted, names,
                   ordinary, remote)

TESTS, test = collector()


MSG = b"Subject: test\n\nhello\n.dot line\n"


def routed(port, host="127.0.0.1", **kw):
    return QmailHome(routes=["example.org:%s:%d" % (host, port)], **kw)


def tlshost(home, name, pem="ca.pem"):
    home.put("tlshosts/%s.pem" % name, open(cert(pem)).read())


def by_name(port, pem="ca.pem", **kw):
    """Routed to the name "localhost" (the test server certificate's), with
    tlshosts/localhost.pem: TLS required and verified."""
    home = routed(port, host="localhost", **kw)
    if pem:
        tlshost(home, "localhost", pem)
    return home


def sends(r, letter, what):
    expect(r.complete and r.status == 0, "%s: incomplete report %r" %
           (what, r))
    expect(r.final.startswith(letter), "%s: %r" % (what, r.final))


# ------------------------------------------------------------ interface

@test
def report_protocol_and_stock_texts():
    rep = {"RCPT no@example.org": "550 5.1.1 no such user",
           "RCPT later@example.org": "451 4.2.0 try later"}
    with Aiosmtpd(tls=False, replies=rep) as peer:
        r = remote(routed(peer.port), "example.org", "s@sender.example",
                   ["u@example.org", "no@example.org", "later@example.org"],
                   MSG)
        expect_eq(r.status, 0, "exit")
        expect_eq(r.rcpts, ["r",
                            "h127.0.0.1 does not like recipient.\n"
                            "Remote host said: 550 5.1.1 no such user\n",
                            "s127.0.0.1 does not like recipient.\n"
                            "Remote host said: 451 4.2.0 try later\n"],
                  "recipient reports")
        expect_eq(r.final, "K127.0.0.1 accepted message.\n"
                  "Remote host said: 250 2.0.0 Ok: queued as 12345\n"
                  "No TLS: the server did not offer STARTTLS.\n",
                  "final report (no STARTTLS offered: stock text, then why "
                  "no TLS)")
        expect_eq(len(peer.messages), 1, "delivered")
        expect_eq(peer.messages[0][2], b"Subject: test\r\n\r\nhello\r\n"
                  b".dot line\r\n", "message as sent (unstuffed by peer)")


@test
def rspawn_mapping_one_recipient():
    """What qmail-send gets, through qmail-rspawn's mapping, for each kind
    of answer to a single recipient (as qmail-rspawn always calls it)."""
    cases = [({}, "K", "127.0.0.1 accepted message.\nRemote host said: 250 "),
             ({"RCPT": "550 5.1.1 unknown"}, "D",
              "127.0.0.1 does not like recipient.\nRemote host said: 550 "
              "5.1.1 unknown\nGiving up on 127.0.0.1.\n"),
             ({"RCPT": "450 4.2.1 mailbox busy"}, "Z",
              "127.0.0.1 does not like recipient.\nRemote host said: 450 "
              "4.2.1 mailbox busy\nGiving up on 127.0.0.1.\n"),
             ({"MESSAGE": "451 4.7.1 later"}, "Z",
              "127.0.0.1 failed after I sent the message.\n")]
    for replies, letter, text in cases:
        with Aiosmtpd(tls=False, replies=replies) as peer:
            r = remote(routed(peer.port), "example.org", "s@x",
                       ["u@example.org"], MSG)
            got = r.rspawn()
            expect_eq(got[0], letter, repr(replies))
            expect(got[1].startswith(text), "%r: %r" % (replies, got[1]))


@test
def usage_and_control_errors():
    home = QmailHome()
    r = remote(home, "example.org", "s@x", [], MSG)
    expect_eq(r.final, "DI (qmail-remote) was invoked improperly. (#5.3.5)\n",
              "usage")
    r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
               env={"STARTTLS_QMAILHOME": "/nonexistent"})
    expect_eq(r.final, "ZUnable to switch to home directory. (#4.3.0)\n",
              "chdir")
    home.put("me", None)
    r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
    expect_eq(r.final, "ZUnable to read control files. (#4.3.0)\n",
              "no me, no helohost")
    for r in (r,):
        expect_eq(r.status, 0, "exit 0 after a report")


@test
def stages_refused_stock_texts():
    cases = [
        ({"EHLO": "554 go away", }, None),
        ({"MAIL": "553 5.7.1 sender refused"},
         "DConnected to 127.0.0.1 but sender was rejected.\n"
         "Remote host said: 553 5.7.1 sender refused\n"),
        ({"MAIL": "451 4.3.0 later"},
         "ZConnected to 127.0.0.1 but sender was rejected.\n"
         "Remote host said: 451 4.3.0 later\n"),
        ({"RCPT": "550 nobody"},
         "DGiving up on 127.0.0.1.\n"),
        ({"DATA": "554 5.5.1 no data"},
         "D127.0.0.1 failed on DATA command.\n"
         "Remote host said: 554 5.5.1 no data\n"),
        ({"DATA": "452 4.3.1 full"},
         "Z127.0.0.1 failed on DATA command.\n"
         "Remote host said: 452 4.3.1 full\n"),
        ({"MESSAGE": "554 5.7.1 spam"},
         "D127.0.0.1 failed after I sent the message.\n"
         "Remote host said: 554 5.7.1 spam\n"),
        ({"MESSAGE": "451 4.7.1 greylisted"},
         "Z127.0.0.1 failed after I sent the message.\n"
         "Remote host said: 451 4.7.1 greylisted\n"),
    ]
    for replies, want in cases:
        with Aiosmtpd(tls=False, replies=replies) as peer:
            r = remote(routed(peer.port), "example.org", "s@x",
                       ["u@example.org"], MSG)
            if want is None:
                # EHLO refused: HELO next, and the message goes through
                expect(r.final.startswith("K127.0.0.1 accepted"),
                       "HELO after refused EHLO: %r" % r)
                continue
            expect_eq(r.final, want, repr(replies))


@test
def greeting_and_helo_failures():
    def refuse_greeting(c):
        c.send(b"421 4.3.2 not now\r\n")
        c.line()

    def refuse_names(c):
        c.send(b"220 x ESMTP\r\n")
        c.expect(b"EHLO")
        c.send(b"500 no\r\n")
        c.expect(b"HELO")
        c.send(b"501 5.5.4 bad name\r\n")
        c.line()
    for fn, want in ((refuse_greeting,
                      "ZConnected to 127.0.0.1 but greeting failed.\n"
                      "Remote host said: 421 4.3.2 not now\n"),
                     (refuse_names,
                      "ZConnected to 127.0.0.1 but my name was rejected.\n"
                      "Remote host said: 501 5.5.4 bad name\n")):
        with Scripted(fn) as peer:
            r = remote(routed(peer.port), "example.org", "s@x",
                       ["u@example.org"], MSG)
            expect_eq(r.final, want, fn.__name__)


@test
def connection_died_possible_duplicate():
    def die_after_dot(c):
        c.send(b"220 x ESMTP\r\n")
        for verb in (b"EHLO", b"MAIL", b"RCPT"):
            c.expect(verb)
            c.send(b"250 ok\r\n")
        c.expect(b"DATA")
        c.send(b"354 go\r\n")
        c.data()
        c.s.close()

    def die_at_rcpt(c):
        c.send(b"220 x ESMTP\r\n")
        for verb in (b"EHLO", b"MAIL"):
            c.expect(verb)
            c.send(b"250 ok\r\n")
        c.expect(b"RCPT")
        c.s.close()
    for fn, want in ((die_after_dot, "ZConnected to 127.0.0.1 but connection "
                      "died. Possible duplicate! (#4.4.2)\n"),
                     (die_at_rcpt, "ZConnected to 127.0.0.1 but connection "
                      "died. (#4.4.2)\n")):
        with Scripted(fn) as peer:
            r = remote(routed(peer.port), "example.org", "s@x",
                       ["u@example.org"], MSG)
            expect_eq(r.final, want, fn.__name__)


@test
def partial_final_line_bounces_and_sends_no_dot():
    with Aiosmtpd(tls=False) as peer:
        r = remote(routed(peer.port), "example.org", "s@x",
                   ["u@example.org"], b"Subject: x\n\nno newline at end")
        expect_eq(r.final, "DSMTP cannot transfer messages with partial "
                  "final lines. (#5.6.2)\n", "report")
        time.sleep(0.3)
        expect_eq(peer.messages, [], "nothing delivered")


@test
def no_server_and_tcpto():
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    p = port.getsockname()[1]
    port.close()
    home = routed(p)
    r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
    expect_eq(r.final, "ZSorry, I wasn't able to establish an SMTP "
              "connection. (#4.4.1)\n", "refused connection")
    # a host that timed out twice, just now, is skipped without a try
    with Aiosmtpd(tls=False) as peer:
        home = routed(peer.port)
        now = int(time.time())
        rec = bytes([127, 0, 0, 1, 2, 0, 0, 0]) + now.to_bytes(4, "little") + \
            b"\0" * 4
        home.set_tcpto(rec)
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        expect_eq(r.final, "ZSorry, I wasn't able to establish an SMTP "
                  "connection. (#4.4.1)\n", "skipped by tcpto")
        expect_eq(peer.messages, [], "no connection made")
        # an old record is tried, and the success clears its count
        old = (now - 10000).to_bytes(4, "little")
        home.set_tcpto(rec[:8] + old + b"\0" * 4)
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        sends(r, "K", "old tcpto record")
        expect_eq(home.tcpto()[4], 0, "count cleared after success")
        expect_eq(len(home.tcpto()), 1024, "file keeps its size")


@test
def nothing_on_fd2():
    """A failure deep inside TLS still produces only the report."""
    with Aiosmtpd(tls=True, verify_client=ssl.CERT_REQUIRED) as peer:
        home = routed(peer.port)
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        expect(r.complete, "report complete: %r" % r)
        for part in r.parts:
            expect(re.match(r"^[rhsKZD]", part), "stray output %r" % part)


# ------------------------------------------------------------- TLS policy

@test
def may_uses_starttls_when_offered():
    with Aiosmtpd(tls=True) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        sends(r, "K", "delivery")
        expect(re.search(r"\nTLS TLSv1\.[23] with \S+, server certificate "
                         r"not verified\.\n$", r.final), "TLS line: %r" %
               r.final)
        expect(peer.messages[0][3] is not None, "peer saw TLS")


@test
def client_certificate_presented():
    with Aiosmtpd(tls=True, verify_client=ssl.CERT_OPTIONAL) as peer:
        home = routed(peer.port, control={
            "clientcert.pem": open(cert("client-combined.pem")).read()})
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        sends(r, "K", "delivery")
        peer_cert = peer.messages[0][3]["peer"]
        expect(peer_cert is not None, "no client certificate seen")
        subject = dict(x[0] for x in peer_cert["subject"])
        expect_eq(subject.get("emailAddress"), "good@example.com", "subject")


@test
def may_starttls_refused_goes_plain():
    with Aiosmtpd(tls=True, replies={"STARTTLS": "454 4.7.0 not now"}) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        sends(r, "K", "delivery")
        expect_in("No TLS: STARTTLS was refused with 454.", r.final, "note")
        expect(peer.messages[0][3] is None, "plaintext")


@test
def may_handshake_failure_retries_plain_once():
    # the server demands a client certificate we do not have
    with Aiosmtpd(tls=True, verify_client=ssl.CERT_REQUIRED) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        sends(r, "K", "delivery")
        expect_in("TLS handshake failed (", r.final, "report says so")
        expect_in("delivered without TLS.", r.final, "report says so")
        expect_eq(len(peer.messages), 1, "exactly one message")
        expect(peer.messages[0][3] is None, "plaintext")


@test
def verify_right_certificate():
    with Aiosmtpd(tls=True) as peer:
        r = remote(by_name(peer.port), "example.org", "s@x",
                   ["u@example.org"], MSG, env=names())
        sends(r, "K", "delivery")
        expect_in("server certificate verified.", r.final, "verified")
        # an address has no name: never a policy, only opportunistic TLS
        home = routed(peer.port)
        tlshost(home, "127.0.0.1", "other-ca.pem")
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        expect_in("server certificate not verified.", r.final, "by address")


@test
def verify_failures_defer_never_plaintext():
    pem = "control/tlshosts/localhost.pem"
    cases = [
        ("wrong CA", {}, "other-ca.pem",
         "ZTLS unable to verify server with %s: unable to get local issuer "
         "certificate; connected to 127.0.0.1.\n" % pem),
        ("wrong name", {"certname": "wrongname"}, "ca.pem",
         "ZTLS unable to verify server localhost: certificate contains no "
         "matching dNSNnames; connected to 127.0.0.1.\n"),
        ("self-signed", {"certname": "selfsigned-server"}, "ca.pem",
         "ZTLS unable to verify server with %s: self-signed certificate; "
         "connected to 127.0.0.1.\n" % pem),
        ("no STARTTLS", {"tls": False}, "ca.pem",
         "ZNo TLS achieved while %s exists; connecting to 127.0.0.1.\n" %
         pem),
        ("454", {"replies": {"STARTTLS": "454 4.7.0 no"}}, "ca.pem",
         "ZSTARTTLS rejected while %s exists; connecting to 127.0.0.1.\n"
         "Remote host said: 454 4.7.0 no\n" % pem),
        ("client cert demanded", {"verify_client": ssl.CERT_REQUIRED},
         "ca.pem", "ZTLS connect failed: "),
    ]
    for name, kw, capem, want in cases:
        with Aiosmtpd(**kw) as peer:
            r = remote(by_name(peer.port, capem), "example.org", "s@x",
                       ["u@example.org"], MSG, env=names())
            sends(r, "Z", name)
            expect(r.final.startswith(want), "%s: %r" % (name, r.final))
            time.sleep(0.2)
            expect_eq(peer.messages, [], name + ": delivered anyway")
            expect_not_in("MAIL", peer.handler.commands, name + ": MAIL sent")


@test
def stripping_defers():
    """A pem exists, and the server stops offering STARTTLS."""
    with Scripted(lambda c: ordinary(c, ehlo_tls=False)) as peer:
        r = remote(by_name(peer.port), "example.org", "s@x",
                   ["u@example.org"], MSG, env=names())
        expect_eq(r.final, "ZNo TLS achieved while control/tlshosts/"
                  "localhost.pem exists; connecting to 127.0.0.1.\n",
                  "report")
        seen = b"".join(b"".join(l) for l in peer.seen)
        expect_not_in(b"MAIL", seen, "plaintext MAIL sent")


@test
def notlshosts_and_exhaustivelist():
    with Aiosmtpd(tls=True) as peer:
        home = by_name(peer.port, pem=None)
        home.put("notlshosts/localhost", "")
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
                   env=names())
        sends(r, "K", "notlshosts")
        expect(peer.messages[-1][3] is None, "notlshosts: no TLS")
        home.put("notlshosts/localhost", None)
        home.put("tlshosts/exhaustivelist", "")
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
                   env=names())
        expect(peer.messages[-1][3] is None, "exhaustivelist: no TLS")
        tlshost(home, "localhost")
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
                   env=names())
        expect(peer.messages[-1][3] is not None, "listed in exhaustivelist")
        expect_in("verified.", r.final, "verified")


@test
def pem_wins_and_exact_spelling():
    """tlshosts/<host>.pem wins over notlshosts/<host> (as in the patch),
    and the name is tried as DNS spelled it before lower case."""
    with Aiosmtpd(tls=True) as peer:
        home = by_name(peer.port)
        home.put("notlshosts/localhost", "")
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
                   env=names())
        expect_in("server certificate verified.", r.final, "pem wins")
        home = QmailHome(routes=["example.org:LocalHost:%d" % peer.port])
        tlshost(home, "LocalHost", "other-ca.pem")
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
                   env=names())
        expect(r.final.startswith("ZTLS unable to verify server with "
                                  "control/tlshosts/LocalHost.pem"),
               "exact spelling: %r" % r.final)


@test
def client_ciphers():
    with Aiosmtpd(tls=True) as peer:
        home = routed(peer.port, control={
            "tlsclientciphers": "ECDHE-RSA-AES128-GCM-SHA256\n"})
        # a TLS 1.2-only server shows the list is used
        peer.ctl._tls.maximum_version = ssl.TLSVersion.TLSv1_2
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        expect_in("TLS TLSv1.2 with ECDHE-RSA-AES128-GCM-SHA256,", r.final,
                  "cipher")


@test
def injected_replies_after_220_discarded():
    def inject(c):
        ordinary(c, after_starttls=b"220 go ahead\r\n250-evil\r\n"
                 b"250 injected\r\n")
    with Scripted(inject) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        expect_eq(r.rcpts, ["r"], "recipient")
        expect(r.final.startswith("K127.0.0.1 accepted message.\n"
                                  "Remote host said: 250 accepted\n"),
               "replies stayed in step: %r" % r.final)
        expect_in("TLS TLSv1.3", r.final, "over TLS")


@test
def endless_reply_lines():
    def huge(c):
        c.send(b"220 " + b"g" * 200000 + b"\r\n")
        c.expect(b"EHLO")
        c.send(b"250-" + b"x" * 300000 + b"\r\n250 8BITMIME\r\n")
        c.expect(b"MAIL")
        c.send(b"250 ok\r\n")
        c.expect(b"RCPT")
        c.send(b"550 " + b"n" * 100000 + b"\r\n")
        c.line()
    with Scripted(huge) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        expect(r.rcpts[0].startswith("h127.0.0.1 does not like recipient."
                                     "\nRemote host said: 550 nnn"),
               "refused: %r" % r.rcpts[0][:80])
        expect(len(r.rcpts[0]) < 5100, "reply text capped")
        expect_eq(r.final, "DGiving up on 127.0.0.1.\n", "final")


# ------------------------------------- TLS trouble: never bounce, never downgrade

def tls_required(c, refuse=None, at=b"MAIL"):
    """A server that requires TLS but whose handshakes fail: it closes
    the connection after its 220 to STARTTLS.  Plaintext is refused at
    `at` with `refuse` (Postfix's smtpd_tls_security_level=encrypt)."""
    c.send(b"220 scripted.example ESMTP\r\n")
    while True:
        line = c.line().rstrip(b"\r")
        verb = line.split(b" ")[0].upper()
        if verb == b"EHLO":
            c.send(b"250-scripted.example\r\n250-STARTTLS\r\n"
                   b"250 8BITMIME\r\n")
        elif verb == b"STARTTLS":
            c.send(b"220 2.0.0 Ready to start TLS\r\n")
            return                      # and no handshake: it fails
        elif line.upper().startswith(at):
            c.send(refuse or b"530 5.7.0 Must issue a STARTTLS command "
                   b"first\r\n")
        elif verb == b"DATA":
            c.send(b"354 go ahead\r\n")
            c.data()
            c.send(b"250 accepted\r\n")
        elif verb == b"QUIT":
            c.send(b"221 bye\r\n")
            return
        else:
            c.send(b"250 ok\r\n")


@test
def tls_required_530_after_failed_handshake_defers():
    """Defect: a handshake failure, the plaintext retry, a 530 at MAIL:
    that bounced the message.  A 530 or 5.7.x after we went on without
    TLS is about our connection: deferred, and the report says why."""
    with Scripted(tls_required) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        sends(r, "Z", "530 at MAIL")
        expect(r.final.startswith(
            "ZConnected to 127.0.0.1 but sender was rejected.\n"
            "Remote host said: 530 5.7.0 Must issue a STARTTLS command "
            "first\n"), "text: %r" % r.final)
        expect_in("\nTLS handshake failed (", r.final, "TLS problem said")
        expect_in("); tried again without TLS.\n", r.final,
                  "TLS problem said")
        expect_eq(r.rspawn()[0], "Z", "qmail-rspawn defers")
        expect_eq(peer.connections, 2, "one TLS try, one plaintext retry")
    # a 5.7.x at RCPT after the fallback: that recipient waits
    refuse = b"550 5.7.1 TLS required for this recipient\r\n"
    with Scripted(lambda c: tls_required(c, refuse, b"RCPT")) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        expect(r.rcpts[0].startswith("s127.0.0.1 does not like recipient."
                                     "\nRemote host said: 550 5.7.1 TLS"),
               "recipient deferred: %r" % r.rcpts)
        expect_eq(r.rspawn()[0], "Z", "qmail-rspawn defers")
        expect_in("TLS handshake failed (", r.final, "TLS problem said")
    # STARTTLS refused, then 530: the same
    def refused(c):
        c.send(b"220 x ESMTP\r\n")
        c.expect(b"EHLO")
        c.send(b"250-x\r\n250 STARTTLS\r\n")
        c.expect(b"STARTTLS")
        c.send(b"454 4.7.0 TLS not available due to local problem\r\n")
        c.expect(b"MAIL")
        c.send(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
        c.line()
    with Scripted(refused) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        sends(r, "Z", "530 after a refused STARTTLS")
        expect_in("No TLS: STARTTLS was refused with 454.\n", r.final,
                  "TLS problem said")


@test
def permanent_refusals_without_tls_trouble_still_bounce():
    """The rule is about TLS trouble only: a server that never offered
    STARTTLS, or a 5.7.1 over TLS, gets the stock verdict."""
    def plain(c):
        c.send(b"220 x ESMTP\r\n")
        c.expect(b"EHLO")
        c.send(b"250-x\r\n250 8BITMIME\r\n")
        c.expect(b"MAIL")
        c.send(b"530 5.7.0 Authentication required\r\n")
        c.line()
    with Scripted(plain) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        expect_eq(r.final, "DConnected to 127.0.0.1 but sender was "
                  "rejected.\nRemote host said: 530 5.7.0 Authentication "
                  "required\n", "stock bounce")
    with Aiosmtpd(tls=True, replies={"RCPT": "550 5.7.1 relaying denied"}) \
            as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        expect(r.rcpts[0].startswith("h127.0.0.1 does not like recipient."),
               "bounced over TLS: %r" % r.rcpts)


@test
def server_421_at_any_stage_defers_with_its_text():
    """Defect: Postfix with smtpd_tls_req_ccert answers the EHLO inside
    TLS with a 421 and closes; we sent HELO into the closed connection
    and reported only "connection died".  A 421 ends the attempt, with
    the server's words."""
    def after_tls(c):
        c.send(b"220 x ESMTP\r\n")
        c.expect(b"EHLO")
        c.send(b"250-x\r\n250 STARTTLS\r\n")
        c.expect(b"STARTTLS")
        c.send(b"220 go ahead\r\n")
        c.starttls()
        c.expect(b"EHLO")
        c.send(b"421 4.7.1 mail.example: Error: No client certificate "
               b"presented\r\n")
        c.s.close()
    with Scripted(after_tls) as peer:
        r = remote(routed(peer.port), "example.org", "s@x", ["u@example.org"],
                   MSG)
        expect_eq(r.final.split("\nTLS ")[0],
                  "ZConnected to 127.0.0.1 but it closed the session.\n"
                  "Remote host said: 421 4.7.1 mail.example: Error: No "
                  "client certificate presented", "report")
        expect(re.search(r"\nTLS TLSv1\.[23] with \S+, server certificate "
                         r"not verified\.\n$", r.final),
               "the report says TLS was up: %r" % r.final)
        expect_eq(peer.connections, 1, "no plaintext retry after a reply")
    # where qmail-remote already defers with the reply, its texts stay
    for stage, want in (
            ("EHLO", "ZConnected to 127.0.0.1 but it closed the session.\n"),
            ("STARTTLS", "ZConnected to 127.0.0.1 but it closed the "
             "session.\n"),
            ("MAIL", "ZConnected to 127.0.0.1 but sender was rejected.\n"),
            ("RCPT", "ZConnected to 127.0.0.1 but it closed the session.\n"),
            ("DATA", "Z127.0.0.1 failed on DATA command.\n")):
        with Aiosmtpd(tls=True, replies={
                stage: "421 4.3.2 System shutting down"}) as peer:
            r = remote(routed(peer.port), "example.org", "s@x",
                       ["u@example.org"], MSG)
            expect(r.final.startswith(want + "Remote host said: 421 4.3.2 "
                                      "System shutting down\n"),
                   "%s: %r" % (stage, r.final))
            expect_eq(r.rspawn()[0], "Z", stage + ": qmail-rspawn defers")
            expect_eq(peer.messages, [], stage + ": nothing delivered")


def broken_clientcerts():
    """(what, clientcert.pem text, the reason the report must give)."""
    key = open(cert("client.key")).read()
    crt = open(cert("client.pem")).read()
    return (("encrypted key", encrypted_key("client") + crt,
             "its private key is encrypted"),
            ("key of another certificate", key +
             open(cert("server.pem")).read(),
             "its private key does not belong to its first certificate"),
            ("garbage", "this is not PEM\n", "it holds no private key"),
            ("key only", key, "it holds no certificate, only a key"),
            ("certificate only", crt, "it holds no private key"))


@test
def broken_clientcert_never_downgrades():
    """Defect: a broken control/clientcert.pem failed every handshake,
    and under the default policy every message went out in plaintext.
    Our own mistake costs the client certificate, never TLS."""
    with Aiosmtpd(tls=True, verify_client=ssl.CERT_OPTIONAL) as peer:
        for what, text, why in broken_clientcerts():
            home = routed(peer.port, control={"clientcert.pem": text})
            r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
            sends(r, "K", what)
            expect(re.search(r"\nTLS TLSv1\.[23] with \S+, server "
                             r"certificate not verified\.\n", r.final),
                   "%s: over TLS: %r" % (what, r.final))
            expect_in("\ncontrol/clientcert.pem not used: " + why,
                      r.final, what)
            expect_not_in("without TLS", r.final, what)
            expect(peer.messages[-1][3] is not None, what + ": peer saw TLS")
            expect(peer.messages[-1][3]["peer"] is None,
                   what + ": no client certificate sent")
    # under a tlshosts pem the policy decides, as ever: verified TLS
    with Aiosmtpd(tls=True) as peer:
        home = by_name(peer.port, control={
            "clientcert.pem": broken_clientcerts()[0][1]})
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
                   env=names())
        sends(r, "K", "tlshosts pem")
        expect_in("server certificate verified.\ncontrol/clientcert.pem "
                  "not used: its private key is encrypted", r.final, "pem")
    # a server that insists on a certificate: deferred, never plaintext
    with Aiosmtpd(tls=True, verify_client=ssl.CERT_REQUIRED) as peer:
        home = by_name(peer.port, control={
            "clientcert.pem": broken_clientcerts()[1][1]})
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
                   env=names())
        sends(r, "Z", "certificate required")
        expect_in("control/clientcert.pem not used: its private key does "
                  "not belong", r.final, "says why")
        expect_eq(peer.messages, [], "nothing in plaintext")


@test
def bad_tlsclientciphers_never_downgrades():
    with Aiosmtpd(tls=True) as peer:
        home = routed(peer.port, control={
            "tlsclientciphers": "NO-SUCH-CIPHER\n"})
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        sends(r, "K", "delivery")
        expect(re.search(r"\nTLS TLSv1\.[23] with ", r.final),
               "over TLS: %r" % r.final)
        expect_in("\ncontrol/tlsclientciphers not used: unable to use the "
                  "ciphers of tlsclientciphers", r.final, "says why")
        expect(peer.messages[0][3] is not None, "peer saw TLS")


@test
def k_report_says_why_no_tls():
    with Aiosmtpd(tls=True) as peer:
        home = routed(peer.port, host="localhost",
                      control={"notlshosts/localhost": ""})
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG,
                   env=names())
        sends(r, "K", "notlshosts")
        expect(r.final.endswith("\nNo TLS: not tried, as "
                                "control/notlshosts/localhost says.\n"),
               "notlshosts: %r" % r.final)


# ------------------------------------------------------------ hardening

def probed(conn, tls, at_ehlo=None, at_mail=None):
    """An honest one-message dialogue that calls at_ehlo() on the first
    EHLO and at_mail() on MAIL, before answering them."""
    conn.send(b"220 scripted.example ESMTP\r\n")
    conn.expect(b"EHLO")
    if at_ehlo:
        at_ehlo()
    conn.send(b"250-scripted.example\r\n" +
              (b"250-STARTTLS\r\n" if tls else b"") + b"250 8BITMIME\r\n")
    if tls:
        conn.expect(b"STARTTLS")
        conn.send(b"220 go ahead\r\n")
        conn.starttls()
        conn.expect(b"EHLO")
        conn.send(b"250 scripted.example\r\n")
    conn.expect(b"MAIL")
    if at_mail:
        at_mail()
    conn.send(b"250 ok\r\n")
    conn.expect(b"RCPT")
    conn.send(b"250 ok\r\n")
    conn.expect(b"DATA")
    conn.send(b"354 go ahead\r\n")
    conn.lines.append(b"MESSAGE:" + conn.data())
    conn.send(b"250 accepted\r\n")
    conn.expect(b"QUIT")
    conn.send(b"221 bye\r\n")


def seccomp_mode(marker):
    """The seccomp mode of the starttls-remote whose argv holds marker."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            if os.path.basename(argv[0]) != b"starttls-remote" or \
                    marker not in argv:
                continue
            st = proc_status(pid)
            return st["Seccomp"].split()[0] if "Seccomp" in st else None
        except OSError:
            continue
    return None


@test
def narrowed_once_connected_with_tls_settled():
    """Once connected for good and TLS is settled, starttls-remote runs
    under its seccomp filter: the message and the report still go through
    (it rewinds fd 0), and nothing is written to fd 2.  Before that (DNS,
    connect, control files) it is not narrowed."""
    if not os.path.exists("/proc/self/status") or "Seccomp:" not in \
            open("/proc/self/status").read() or b"sandbox: seccomp" not in \
            subprocess.run([SMTPD, "-V"], stdout=subprocess.PIPE).stdout:
        return "skip"           # not Linux, or built with SECCOMP=0
    marker = b"seccomp-probe@example.org"
    for usetls in (True, False):
        modes = []

        def fn(conn):
            probe = lambda: modes.append(seccomp_mode(marker))  # noqa: E731
            probed(conn, usetls, at_ehlo=probe, at_mail=probe)

        with Scripted(fn) as peer:
            r = remote(routed(peer.port), "example.org", "s@sender.example",
                       [marker.decode()], MSG * 2000)
            what = "with TLS" if usetls else "plaintext"
            sends(r, "K", what)
            expect_eq(modes, ["0", "2"], "seccomp mode at EHLO, at MAIL, "
                      + what)
            expect_in(b"MESSAGE:" + b"Subject: test\r\n", b"".join(
                peer.seen[0]), "message " + what)
            expect_eq(r.raw.count(b"\0"), 2, "report, nothing else: %r"
                      % r.raw[:200])


@test
def client_key_wiped_after_handshake():
    """Once the handshake is done, no PEM copy of clientcert.pem's key is
    left in starttls-remote's memory, while the certificate's still is
    (which shows the scan would find the key if it were there)."""
    combined = cert("client-combined.pem")
    key, crt = pem_line(combined, "PRIVATE KEY"), pem_line(combined,
                                                           "CERTIFICATE")
    seen = {}

    def scan():
        for pid in pids_of(REMOTE):
            seen["key"] = memory_holds(pid, key)
            seen["cert"] = memory_holds(pid, crt)

    def fn(conn):
        probed(conn, True, at_mail=scan)

    with Scripted(fn) as peer:
        home = routed(peer.port, control={
            "clientcert.pem": open(combined).read()})
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        sends(r, "K", "delivery")
    if seen.get("cert") is None:
        return "skip"           # its memory could not be read
    expect_eq(seen["cert"], True, "certificate found (the scan works)")
    expect_eq(seen["key"], False, "a PEM copy of the key left in memory")


# -------------------------------------------------------- both halves

@test
def both_halves_relay_by_certificate_20mb():
    """starttls-remote -> tcpserver -> starttls-smtpd -> qmail-smtpd, 20 MB
    of 8-bit lines, relaying granted by the client certificate."""
    lines = []
    size = 0
    while size < 20 * 1000 * 1000:
        n = 1 + (size * 7919) % 990
        line = os.urandom(n).translate(bytes.maketrans(b"\r\n", b"ab"))
        lines.append(line)
        size += n + 1
    body = b"\n".join(lines) + b"\n"
    with Server() as srv:
        home = by_name(srv.port, control={
            "clientcert.pem": open(cert("client-combined.pem")).read()})
        r = remote(home, "example.org", "s@sender.example",
                   ["far@foreign.net"], body, timeout=120, env=names())
        sends(r, "K", "delivery")
        expect_in("server certificate verified.", r.final, "verified")
        msgs = srv.messages()
        expect_eq(msgs[0][1], ["far@foreign.net"], "relayed")
        got = msgs[0][2].split(b"\n", 2)[2]
        expect_eq(hashlib.sha256(got).hexdigest(),
                  hashlib.sha256(body).hexdigest(), "20 MB byte-identical")
        expect_in("relay granted to good@example.com", srv.ourlog(), "log")


# ----------------------------------------------------------------- DNS

def need_root():
    return os.geteuid() != 0


@test
def mx_order_fallback_and_failures():
    """MX tests need servers on port 25 of 127.0.0.x: root only."""
    if need_root():
        return "skip"
    dns = ["--mx-host=pref.test,mx1.pref.test,10",
           "--mx-host=pref.test,mx2.pref.test,20",
           "--host-record=mx1.pref.test,127.0.0.2",
           "--host-record=mx2.pref.test,127.0.0.3",
           "--mx-host=dead.test,down.dead.test,5",
           "--mx-host=dead.test,up.dead.test,10",
           "--host-record=down.dead.test,127.0.0.9",
           "--host-record=up.dead.test,127.0.0.3",
           "--host-record=aonly.test,127.0.0.2",
           "--mx-host=self.test,mx.self.test,10",
           "--host-record=mx.self.test,127.0.0.1",
           "--mx-host=v6.test,mx.v6.test,10",
           "--host-record=mx.v6.test,::1",
           "--address=/nx.test/",
           "--server=/sf.test/127.0.0.1#9"]
    with Dnsmasq(dns) as d, Aiosmtpd(tls=False, host="127.0.0.2",
                                     port=25) as a2, \
            Aiosmtpd(tls=True, host="127.0.0.3", port=25) as a3:
        home = QmailHome()
        r = remote(home, "pref.test", "s@x", ["u@pref.test"], MSG, env=d.env)
        sends(r, "K", "preference")
        expect(r.final.startswith("K127.0.0.2 accepted"), "best MX first")
        r = remote(home, "dead.test", "s@x", ["u@dead.test"], MSG, env=d.env)
        expect(r.final.startswith("K127.0.0.3 accepted"), "dead MX skipped: "
               "%r" % r.final)
        expect_in("TLS TLSv1.3", r.final, "STARTTLS with the MX")
        r = remote(home, "aonly.test", "s@x", ["u@aonly.test"], MSG, env=d.env)
        expect(r.final.startswith("K127.0.0.2 accepted"), "A fallback")
        r = remote(home, "self.test", "s@x", ["u@self.test"], MSG, env=d.env)
        expect(r.final.startswith("DSorry. Although I'm listed as a best-"
                                  "preference MX or A for that host,\n"),
               "loop: %r" % r.final)
        expect_in("(#5.4.6)", r.final, "loop")
        r = remote(home, "[127.0.0.1]", "s@x", ["u@[127.0.0.1]"], MSG,
                   env=d.env)
        expect_in("(#5.4.6)", r.final, "literal to ourselves")
        # AAAA records are used: an IPv6-only MX at ::1 is this machine
        r = remote(home, "v6.test", "s@x", ["u@v6.test"], MSG, env=d.env)
        expect_in("(#5.4.6)", r.final, "AAAA-only MX on ::1")
        r = remote(home, "nx.test", "s@x", ["u@nx.test"], MSG, env=d.env)
        expect_eq(r.final, "DSorry, I couldn't find any host named nx.test. "
                  "(#5.1.2)\n", "NXDOMAIN")
        r = remote(home, "sf.test", "s@x", ["u@sf.test"], MSG, env=d.env)
        expect_eq(r.final, "ZSorry, I couldn't find any host by that name. "
                  "(#4.1.2)\n", "SERVFAIL")
        expect_eq(len(a2.messages), 2, "messages at mx1")
        expect_eq(len(a3.messages), 1, "messages at up.dead.test")


@test
def mx_equal_preferences_shuffled():
    if need_root():
        return "skip"
    dns = ["--mx-host=eq.test,a.eq.test,10", "--mx-host=eq.test,b.eq.test,10",
           "--host-record=a.eq.test,127.0.0.4",
           "--host-record=b.eq.test,127.0.0.5"]
    with Dnsmasq(dns) as d, Aiosmtpd(tls=False, host="127.0.0.4",
                                     port=25) as a, \
            Aiosmtpd(tls=False, host="127.0.0.5", port=25) as b:
        home = QmailHome()
        for i in range(16):
            r = remote(home, "eq.test", "s@x", ["u@eq.test"], MSG, env=d.env)
            sends(r, "K", "run %d" % i)
            time.sleep(0.05)
        expect(len(a.messages) > 0 and len(b.messages) > 0,
               "both MXes used: %d/%d" % (len(a.messages), len(b.messages)))
        expect_eq(len(a.messages) + len(b.messages), 16, "all delivered")


@test
def mx_name_keys_tls_policy():
    """tlshosts/<MX name>.pem: the name checked is the MX host's."""
    if need_root():
        return "skip"
    dns = ["--mx-host=pol.test,localhost.pol.test,10",
           "--host-record=localhost.pol.test,127.0.0.6"]
    with Dnsmasq(dns) as d, Aiosmtpd(tls=True, host="127.0.0.6",
                                     port=25) as a:
        home = QmailHome()
        tlshost(home, "localhost.pol.test")
        r = remote(home, "pol.test", "s@x", ["u@pol.test"], MSG, env=d.env)
        # the certificate says localhost, not localhost.pol.test
        sends(r, "Z", "name mismatch")
        expect_eq(r.final, "ZTLS unable to verify server localhost.pol.test"
                  ": certificate contains no matching dNSNnames; connected "
                  "to 127.0.0.6.\n", "reason")
        expect_eq(a.messages, [], "nothing delivered")
        home.put("tlshosts/localhost.pol.test.pem", None)
        r = remote(home, "pol.test", "s@x", ["u@pol.test"], MSG, env=d.env)
        sends(r, "K", "opportunistic to the same host")


@test
def ipv6_relay():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        return "skip"
    with Aiosmtpd(tls=True, host="::1") as peer:
        home = QmailHome(routes=["example.org:[IPv6:::1]:%d" % peer.port])
        r = remote(home, "example.org", "s@x", ["u@example.org"], MSG)
        sends(r, "K", "IPv6")
        expect(r.final.startswith("K::1 accepted message."), r.final)
