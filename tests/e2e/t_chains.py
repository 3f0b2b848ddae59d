"""The UCSPI programs a run script puts between starttls-smtpd and
qmail-smtpd: fixcrio (bare LFs mended, in both phases), recordio (the
dialogue logged, decrypted), rblsmtpd, and a wrapper that execs
qmail-smtpd.  starttls-smtpd must follow what the program behind it does,
its replies and its exit, not what stock qmail-smtpd would do.
"""
from lib import collector, Client, Server, expect, expect_eq, expect_in
from t_faults import to_data

TESTS, test = collector()

BARE = b"Subject: bare\nTo: u@example.org\n\nline one\n.dot-stuffed\nend\n"


def session_with_bare_lfs(srv, tls):
    """Two messages in one session, the first with bare LFs and ending in
    a bare ".\\n"; then QUIT.  The replies, in order."""
    c = Client(srv.port)
    c.begin(tls)
    replies = []
    for body, end in ((BARE, b".\n"), (b"Subject: crlf\r\n\r\nok\r\n",
                                       b".\r\n")):
        expect(c.cmd(b"MAIL FROM:<a@b.org>").startswith(b"250"), "MAIL")
        expect(c.cmd(b"RCPT TO:<u@example.org>").startswith(b"250"), "RCPT")
        expect_eq(c.cmd(b"DATA"), b"354 go ahead\r\n", "DATA")
        c.send(body + end)
        replies.append(c.reply())
    replies.append(c.cmd(b"QUIT"))
    return replies


@test
def fixcrio_behind_the_front():
    """tcpserver ... starttls-smtpd fixcrio qmail-smtpd: a message with
    bare LFs is mended and accepted, in plaintext and inside TLS, and the
    session goes on (it used to hang at the end of DATA until a
    timeout)."""
    with Server(("SMTPD", "fixcrio", "STANDIN")) as srv:
        for tls in (False, True):
            replies = session_with_bare_lfs(srv, tls)
            expect(replies[0].startswith(b"250 ok"), "bare LFs: %r" %
                   replies[0])
            expect(replies[1].startswith(b"250 ok"), "next message")
            expect(replies[2].startswith(b"221"), "QUIT")
        msgs = srv.messages()
        expect_eq(len(msgs), 4, "messages")
        # files written within a clock tick sort either way: by content
        bare = [m[2] for m in msgs if b"Subject: bare" in m[2]]
        expect_eq(len(bare), 2, "the messages with bare LFs")
        for m in bare:
            expect_in(b"\n\nline one\ndot-stuffed\nend\n", m,
                      "mended by fixcrio, dot-unstuffed by qmail-smtpd")


@test
def bare_lf_without_fixcrio_is_refused_and_ends():
    """Without fixcrio, qmail-smtpd answers a bare LF with 451 and exits:
    the client gets the 451, the session ends, nothing is queued."""
    with Server() as srv:
        for tls in (False, True):
            c = Client(srv.port)
            to_data(c, tls)
            c.send(BARE + b".\nQUIT\r\n")
            expect(c.reply().startswith(b"451 "), "451")
            expect_eq(c.s.recv(100), b"", "the session ends")
        expect_eq(srv.messages(), [], "queued")


@test
def recordio_behind_the_front_logs_the_dialogue():
    """recordio behind the front logs the dialogue with qmail-smtpd, the
    TLS phase decrypted: what an administrator debugging a client sees."""
    with Server(("SMTPD", "recordio", "STANDIN")) as srv:
        c = Client(srv.port)
        c.begin(tls=True)
        r, done = c.mail(sender=b"debug@b.org")
        expect(done is not None and done.startswith(b"250"), "delivered")
        c.cmd(b"QUIT")
        expect(srv.idle(10), "session ended")
        expect_in(" < MAIL FROM:<debug@b.org>", srv.log(), "recordio log")
        expect_eq(len(srv.messages()), 1, "messages")


@test
def wrapper_that_execs_qmail_smtpd():
    """A script that sets something up and execs qmail-smtpd, and
    rblsmtpd letting the client through: mail flows in both phases."""
    for chain in (("SMTPD", "sh", "-c", 'umask 077; exec "$0"', "STANDIN"),
                  ("SMTPD", "rblsmtpd", "STANDIN")):
        with Server(chain, env={"RBLSMTPD": ""}) as srv:
            for tls in (False, True):
                c = Client(srv.port)
                c.begin(tls)
                r, done = c.mail()
                expect(done is not None and done.startswith(b"250"),
                       "%s: %r" % (chain[1], done))
                expect(c.cmd(b"QUIT").startswith(b"221"), "QUIT")
            expect_eq(len(srv.messages()), 2, "%s: messages" % chain[1])
