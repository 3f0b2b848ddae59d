"""Whole sessions through starttls-smtpd and their limits: the memory
limit of the documented run script, stalls that time out, thousands of
pipelined commands, 20 MB byte for byte, QUIT, half-close and a client
that vanishes, and a qmail-smtpd that cannot be started.
"""
import hashlib
import os
import random
import re
import socket
import time

from lib import (collector, Client, Server, expect, expect_eq, expect_in,
                 STANDIN)
from smtpd_helpers import EHLO_PLAIN, SOFTLIMIT, tls_session

TESTS, test = collector()


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
