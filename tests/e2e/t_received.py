"""TLS in qmail-smtpd's Received field: starttls-smtpd points $QMAILQUEUE
at starttls-received in the TLS phase, and the qmail-smtpd stand-in runs
it exactly as qmail-smtpd runs its queue program (qmail.c), which then
runs the queue stand-in (bin/qmail-queue in the test's qmail home).
"""
import os
import re
import subprocess

from lib import (collector, Client, Server, expect, expect_eq, expect_in,
                 expect_not_in, QUEUE, RECEIVED, WORK)
from smtpd_helpers import tls_session

TESTS, test = collector()

FIELD_TLS = re.compile(
    rb"Received: from [^ ()]+ \(HELO client\.example\) \(([^()]*@)?"
    rb"127\.0\.0\.1\)\n"
    rb"  by [^ ()]+ with ESMTPS \((TLSv1\.[23]), ([^)]*)\)"
    rb"( tls TLS_[A-Z0-9_]+)?; \d{1,2} [A-Z][a-z]{2} \d{4} "
    rb"\d\d:\d\d:\d\d -0000\n")
FIELD_PLAIN = re.compile(
    rb"Received: from [^ ()]+ \(HELO [^()]*\) \([^()]*\)\n"
    rb"  by [^ ()]+ with SMTP; [^\n]*\n")


def tls_then_plaintext(body):
    """The same body sent over TLS (with a listed client certificate) and
    then in plaintext: the two queued messages, as srv.messages() has
    them."""
    with Server() as srv:
        tls_session(srv, "client", body=body)
        plaintext_message(srv, body)
        srv.idle()
        msgs = srv.messages()
    expect_eq(len(msgs), 2, "messages")
    return msgs


def plaintext_message(srv, body):
    c = Client(srv.port)
    c.reply()
    c.cmd(b"EHLO client.example")
    r, done = c.mail(body=body)
    c.cmd(b"QUIT")
    c.close()
    return done


def after_field(msg):
    """The message without its first two lines (qmail-smtpd's field)."""
    return msg.split(b"\n", 2)[2]


def script(name, text):
    """An executable shell script in the work directory."""
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, 0o755)
    return path


@test
def tls_session_stamps_qmail_smtpd_field():
    """Over TLS with a listed client certificate, "with SMTP" becomes
    "with ESMTPS (version, certificate) tls <IANA name>"; the rest of the
    field and of the message is what qmail-smtpd wrote."""
    body = b"Subject: t\r\n\r\nhello\r\n"
    msgs = tls_then_plaintext(body)
    tls, plain = msgs[0][2], msgs[1][2]
    m = FIELD_TLS.match(tls)
    expect(m, "stamped field: %r" % tls[:300])
    expect_eq(m.group(1), b"good@example.com@", "certificate address")
    expect_eq(m.group(3), b"client certificate verified", "certificate")
    expect(m.group(4) is not None, "an IANA cipher name: %r" % tls[:300])
    expect(FIELD_PLAIN.match(plain), "plaintext field: %r" % plain[:300])
    expect_eq(after_field(tls), after_field(plain), "the rest")
    expect_eq(after_field(tls), b"Subject: t\n\nhello\n", "body")


@test
def no_certificate_said_and_tls12_named():
    """TLS 1.2 without a client certificate: the field says both."""
    with Server() as srv:
        tls_session(srv, None, version="1.2")
        srv.idle()
        msg = srv.messages()[0][2]
    m = FIELD_TLS.match(msg)
    expect(m, "stamped field: %r" % msg[:300])
    expect_eq(m.group(2), b"TLSv1.2", "version")
    expect_eq(m.group(3), b"no client certificate", "certificate")
    expect(m.group(4) is not None and m.group(4).startswith(b" tls TLS_"),
           "IANA name of a TLS 1.2 suite: %r" % msg[:300])


@test
def plaintext_phase_and_R_leave_it_alone():
    """The plaintext phase's qmail-smtpd gets no QMAILQUEUE of ours, and
    -R turns the stamping off for TLS too."""
    with Server() as srv:
        plaintext_message(srv, b"Subject: p\r\n\r\nx\r\n")
        srv.idle()
        env = srv.senv(srv.sessions()[-1])
        msg = srv.messages()[0][2]
    expect_not_in("QMAILQUEUE", env, "plaintext environment")
    expect_not_in("STARTTLS_RECEIVED", env, "plaintext environment")
    expect(FIELD_PLAIN.match(msg), "plaintext field: %r" % msg[:300])
    with Server(("SMTPD", "-R", "STANDIN")) as srv:
        tls_session(srv, "client")
        srv.idle()
        env = srv.senv(srv.sessions()[-1])
        msg = srv.messages()[0][2]
    expect_not_in("QMAILQUEUE", env, "TLS environment with -R")
    expect(b" with SMTP; " in msg.split(b"\n")[1], "-R: %r" % msg[:300])


@test
def chains_to_the_sites_own_qmailqueue():
    """A site's own $QMAILQUEUE (a scanner, say) still runs, after ours,
    with $QMAILQUEUE as it was and nothing of ours in its environment."""
    shared = os.path.join(WORK, "scanner-out")
    os.makedirs(shared, exist_ok=True)
    os.chmod(shared, 0o777)         # the scanner runs as tcpserver -u's user
    seen = os.path.join(shared, "env")
    scanner = script("scanner", "env > %s\nexec %s\n" % (seen, QUEUE))
    with Server(env={"QMAILQUEUE": scanner}) as srv:
        tls_session(srv, "client")
        srv.idle()
        env = srv.senv(srv.sessions()[-1])
        msg = srv.messages()[0][2]
    expect_eq(env.get("QMAILQUEUE"), RECEIVED, "qmail-smtpd's QMAILQUEUE")
    expect_eq(env.get("STARTTLS_QMAILQUEUE"), scanner, "kept for later")
    expect(FIELD_TLS.match(msg), "stamped: %r" % msg[:300])
    text = open(seen).read()
    expect_in("QMAILQUEUE=%s\n" % scanner, text, "scanner's QMAILQUEUE")
    # ours, not the harness's (make check-asan sets STARTTLS_BUILD)
    for name in ("STARTTLS_QMAILQUEUE", "STARTTLS_RECEIVED",
                 "STARTTLS_CONTROLDIR"):
        expect_not_in(name + "=", text, "scanner's environment")
    expect_in("SSL_PROTOCOL=", text, "TLS facts go on")


@test
def failing_or_missing_queue_program_is_a_451():
    """The queue program after ours fails (71: temporary, 31: permanent,
    a crash) or does not exist: qmail-smtpd answers as it would without
    us; nothing is queued and nothing temporary turns permanent."""
    cases = (
        (script("qq71", "cat >/dev/null; exit 71\n"),
         b"451 mail server temporarily rejected message (#4.3.0)\r\n"),
        (script("qq31", "exit 31\n"),
         b"554 mail server permanently rejected message (#5.3.0)\r\n"),
        (script("qqcrash", "kill -SEGV $$\n"),
         b"451 qq crashed (#4.3.0)\r\n"),
        (os.path.join(WORK, "no-such-queue"),
         b"451 unable to exec qq (#4.3.0)\r\n"),
    )
    for qq, want in cases:
        with Server(env={"QMAILQUEUE": qq}) as srv:
            c = Client(srv.port)
            c.reply()
            c.cmd(b"EHLO client.example")
            c.cmd(b"STARTTLS")
            c.starttls("client")
            c.cmd(b"EHLO client.example")
            r, done = c.mail(body=b"Subject: q\r\n\r\n" + b"x" * 300000 +
                             b"\r\n")
            expect_eq(done, want, "reply with QMAILQUEUE=%s" % qq)
            c.cmd(b"QUIT")
            c.close()
            srv.idle()
            expect_eq(srv.messages(), [], "queued")
            if "no-such" in qq:
                expect_in("starttls-received: pid ", srv.log(), "log")
                expect_in("unable to run %s" % qq, srv.log(), "log")


@test
def large_8bit_message_byte_exact():
    """Every byte but the protocol word arrives as qmail-smtpd wrote it:
    a 6 MB message with every byte value (CRLF lines, as SMTP has it),
    compared with the same message sent without TLS."""
    line = bytes(b for b in range(256) if b not in (10, 13)) + b"\r\n"
    body = b"Subject: 8bit\r\n\r\n" + line * (6 * 1024 * 1024 // len(line))
    msgs = tls_then_plaintext(body)
    expect(FIELD_TLS.match(msgs[0][2]), "stamped: %r" % msgs[0][2][:200])
    expect(after_field(msgs[0][2]) == after_field(msgs[1][2]),
           "the rest is byte-identical")


# starttls-received on its own, as qmail-smtpd would run it

def received_run(message, env_add=None, queue=QUEUE,
                 envelope=b"Fa@b\0Tc@d\0\0"):
    """Run starttls-received with message on fd 0 and envelope on fd 1, in
    a qmail home whose bin/qmail-queue is queue: (exit code, stderr,
    [(envelope text, message)] recorded)."""
    home = os.path.join(WORK, "rhome%d" % len(os.listdir(WORK)))
    rec = os.path.join(home, "rec")
    os.makedirs(os.path.join(home, "bin"))
    os.makedirs(rec)
    if queue is not None:
        os.symlink(queue, os.path.join(home, "bin", "qmail-queue"))
    env = {"PATH": os.environ["PATH"], "STANDIN_RECORD": rec,
           "SSL_PROTOCOL": "TLSv1.3", "SSL_CIPHER": "TLS_AES_128_GCM_SHA256",
           "SSL_CLIENT_VERIFY": "NONE", "QMAILQUEUE": RECEIVED}
    env.update(env_add or {})
    env = {k: v for k, v in env.items() if v is not None}
    r, w = os.pipe()
    os.write(w, envelope)
    os.close(w)
    try:
        p = subprocess.run([RECEIVED], input=message, stdout=r,
                           stderr=subprocess.PIPE, cwd=home, env=env,
                           timeout=30)
    finally:
        os.close(r)
    got = []
    for f in sorted(os.listdir(rec)):
        if f.endswith(".envelope"):
            got.append((open(os.path.join(rec, f)).read(),
                        open(os.path.join(rec, f[:-8] + "msg"), "rb").read()))
    return p.returncode, p.stderr.decode(errors="replace"), got


QMAIL_FIELD = (b"Received: from unknown (HELO x) (1.2.3.4)\n"
               b"  by mx.example.org with SMTP; 1 Dec 2026 14:27:13 -0000\n")


@test
def received_alone_stamps_and_passes_envelope():
    code, err, got = received_run(QMAIL_FIELD + b"Subject: a\n\nbody\n")
    expect_eq(code, 0, "exit: " + err)
    expect_eq(got, [("Fa@b\nTc@d\n",
                     QMAIL_FIELD.replace(b"with SMTP", b"with ESMTPS "
                                         b"(TLSv1.3, no client certificate) "
                                         b"tls TLS_AES_128_GCM_SHA256") +
                     b"Subject: a\n\nbody\n")], "queued")


@test
def received_alone_leaves_other_heads_alone():
    """No Received field, another program's field, a field longer than
    64 KiB, a message that ends inside the field, or no TLS facts: the
    message passes untouched."""
    huge = (b"Received: from " + b"h" * 100000 + b" (1.2.3.4)\n"
            b"  by mx.example.org with SMTP; 1 Dec 2026 14:27:13 -0000\n")
    cases = [
        (b"Subject: no field\n\nbody\n", None),
        (b"Received: from mx (mx [1.2.3.4]) by y with ESMTP; x\n\nb\n",
         None),
        (huge + b"\nbody\n", None),
        (QMAIL_FIELD[:70], None),
        (b"", None),
        (QMAIL_FIELD + b"\nb\n", {"SSL_PROTOCOL": None}),
    ]
    for msg, env in cases:
        code, err, got = received_run(msg, env)
        expect_eq(code, 0, "exit for %r: %s" % (msg[:40], err))
        expect_eq(len(got), 1, "queued %r" % msg[:40])
        expect(got[0][1] == msg, "untouched: %r" % msg[:80])


@test
def received_alone_fails_temporarily():
    """No queue program: 120 (qmail-smtpd: "unable to exec qq", 451) and a
    log line; a queue program that dies: the same death; one that stops
    reading early: its own exit code."""
    code, err, got = received_run(QMAIL_FIELD, queue=None)
    expect_eq(code, 120, "exit without bin/qmail-queue")
    expect_in("starttls-received: pid ", err, "log line")
    expect_in("fatal: unable to run bin/qmail-queue", err, "log line")
    dies = script("qqdies", "kill -KILL $$\n")
    code, err, got = received_run(QMAIL_FIELD + b"x" * 500000, queue=dies)
    expect_eq(code, -9, "dies as the queue program did")
    early = script("qqearly", "exit 31\n")
    code, err, got = received_run(QMAIL_FIELD + b"x" * 500000, queue=early)
    expect_eq(code, 31, "the queue program's own code")
    code, err, got = received_run(
        QMAIL_FIELD, {"STARTTLS_QMAILQUEUE": os.path.join(WORK, "nope")})
    expect_eq(code, 120, "exit with a missing $STARTTLS_QMAILQUEUE")


@test
def received_alone_gives_queue_program_default_sigpipe():
    """starttls-received ignores SIGPIPE for itself; the queue program
    gets it as qmail-smtpd would have given it: not ignored."""
    if not os.path.exists("/proc/self/status"):
        return "skip"
    out = os.path.join(WORK, "qqsig.out")
    probe = script("qqsig", "grep ^SigIgn: /proc/self/status > %s\n"
                   "exec %s\n" % (out, QUEUE))
    code, err, got = received_run(QMAIL_FIELD + b"\nbody\n", queue=probe)
    expect_eq(code, 0, "exit: " + err)
    expect_eq(len(got), 1, "queued")
    mask = int(open(out).read().split()[1], 16)
    expect(not mask & (1 << 12), "SIGPIPE ignored in the queue program: "
           "%x" % mask)
