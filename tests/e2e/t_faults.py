"""Faults: break the session in each state and check that the right thing
happens, no mail is lost or doubled, and no process is left behind.
(Stalls in each phase and vanishing clients are in t_smtpd_sessions.py,
certificate faults in t_smtpd_relay.py, refusing servers in
t_smtpd_boundary.py.)
"""
import re
import socket
import struct
import time

from lib import (collector, Client, Server, expect, expect_eq, expect_in,
                 expect_not_in, wait_for)

TESTS, test = collector()


def all_ended(srv):
    expect(srv.idle(10), "a session is still running")
    for pid in srv.sessions():
        expect(srv.sexit(pid) is not None, "qmail-smtpd %d left behind" % pid)


def to_data(c, tls):
    c.begin(tls)
    c.cmd(b"MAIL FROM:<a@b.org>")
    c.cmd(b"RCPT TO:<u@example.org>")
    expect_eq(c.cmd(b"DATA"), b"354 go ahead\r\n", "DATA")


@test
def client_dies_before_the_greeting():
    """Gone before qmail-smtpd has even greeted: everything ends."""
    slow = ("SMTPD", "sh", "-c", 'sleep 0.5; exec "$0"', "STANDIN")
    with Server(slow) as srv:
        for _ in range(3):
            c = Client(srv.port)
            c.sock.close()
        # tcpserver may not even have logged them yet
        expect(wait_for(lambda: len(srv.sessions()) == 3, 10),
               "servers started: %d" % len(srv.sessions()))
        all_ended(srv)


@test
def client_dies_mid_data():
    """Half a message, then the client is gone: nothing is queued."""
    with Server() as srv:
        for tls in (False, True):
            c = Client(srv.port)
            to_data(c, tls)
            c.send(b"Subject: half\r\n\r\nthis message never ends")
            c.s.close()
        all_ended(srv)
        expect_eq(srv.messages(), [], "a half message was queued")


def reset(c):
    """End the connection with a TCP RST, as scanners and peers that time
    out do: SO_LINGER with a zero timeout, then close."""
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   struct.pack("ii", 1, 0))
    c.s.close()


def no_signal_deaths(srv):
    """Every session tcpserver ended exited; none was killed by a signal
    (a seccomp filter kills with SIGSYS)."""
    for status in re.findall(r"tcpserver: end \d+ status (\d+)", srv.log()):
        expect(int(status) & 0x7f == 0, "a session killed by signal %d:\n%s"
               % (int(status) & 0x7f, srv.log()))


@test
def client_resets_at_each_stage():
    """A client that resets the connection (TCP RST) at the greeting,
    after EHLO and in the middle of DATA, in plaintext and inside TLS:
    the front ends as for any hang-up, says so in its log, and no process
    is killed, by its own sandbox or otherwise.  No half message is
    queued."""
    with Server() as srv:
        resets = 0
        for tls in (False, True):
            for stage in ("greeting", "ehlo", "data"):
                if tls and stage == "greeting":
                    continue
                c = Client(srv.port)
                if stage == "data":
                    to_data(c, tls)
                    c.send(b"Subject: reset\r\n\r\nhalf a message")
                else:
                    c.reply()
                    if tls:
                        c.cmd(b"EHLO x")
                        c.cmd(b"STARTTLS")
                        c.starttls()
                    if stage == "ehlo":
                        c.cmd(b"EHLO x")
                time.sleep(0.2)     # the front is waiting in poll()
                reset(c)
                resets += 1
        all_ended(srv)
        no_signal_deaths(srv)
        expect(srv.log().count("client read failed") >= 3, "the reset, "
               "logged in plaintext:\n" + srv.log())
        expect_eq(srv.messages(), [], "a half message was queued")


@test
def client_dies_after_dot_before_reply():
    """The whole message was sent: it is queued, once, reply or not."""
    with Server() as srv:
        for tls in (False, True):
            c = Client(srv.port)
            to_data(c, tls)
            c.send(b"Subject: whole\r\n\r\ncomplete\r\n.\r\n")
            c.s.close()
        all_ended(srv)
        expect_eq(len(srv.messages()), 2, "messages queued")


@test
def tls_alert_mid_data():
    """close_notify, an encrypted TLS alert, halfway through a message:
    the half message is not queued and the session ends at once."""
    with Server() as srv:
        c = Client(srv.port)
        to_data(c, True)
        c.send(b"Subject: half\r\n\r\nthis message never ends")
        c.s.settimeout(5)
        try:
            c.s.unwrap()        # sends close_notify, waits for ours
        except (OSError, ValueError):
            pass
        c.sock.close()
        all_ended(srv)
        expect_eq(srv.messages(), [], "a half message was queued")


@test
def client_gone_mid_handshake():
    """Half a ClientHello, then the client hangs up: the handshake fails
    at once (no waiting for the timeout) and nothing is left behind."""
    with Server(("SMTPD", "-T", "30", "STANDIN")) as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        t = time.time()
        c.sock.close()
        all_ended(srv)
        expect(time.time() - t < 10, "ended by the hang-up, not -T 30")
        # an ordinary event on port 25, said calmly, in our own words
        expect_in("client closed the connection during the TLS handshake",
                  srv.ourlog(), "log")
        expect_not_in("TLS handshake failed", srv.ourlog(), "log")
        expect_eq(srv.messages(), [], "messages")


@test
def server_behind_crashes_in_each_phase():
    for after, tls in ((1, False), (1, True), (3, True)):
        with Server(("SMTPD", "ODD", "--crash-after", str(after))) as srv:
            c = Client(srv.port)
            c.reply()
            if tls:
                c.cmd(b"STARTTLS")
                c.starttls()
            c.send(b"EHLO x\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<u@x.org>\r\n")
            got = c.rest(3)
            c.close()
            expect(srv.idle(10), "session left running (crash after %d, "
                   "tls %d)" % (after, tls))
            expect(re.search(r"tcpserver: end \d+ status 28416", srv.log()),
                   "a crashed server is exit 111: " + srv.log()[-300:])
            # it answered every command it read, the last one included,
            # then died: EHLO's reply, then one "250 ok" per later command
            expect(got.startswith(b"250-odd.example"), "EHLO reply: %r" %
                   got)
            expect_eq(got.count(b"250 ok\r\n"), after - 1,
                      "replies before the crash")


@test
def server_behind_never_answers():
    chain = ("SMTPD", "-t", "2", "ODD", "--silent")
    with Server(chain) as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 odd.example ESMTP\r\n", "greeting")
        c.send(b"EHLO x\r\n")
        expect_eq(c.rest(6), b"", "nothing but the end")
        c.close()
        expect(srv.idle(10), "session left running")
        expect_in("timeout: nothing moved for 2 seconds", srv.ourlog(), "log")


@test
def garbage_instead_of_client_hello():
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        c.send(b"EHLO this is not TLS\r\n" * 20)
        c.rest(3)
        c.close()
        all_ended(srv)
        expect_in("TLS handshake failed", srv.ourlog(), "log")


@test
def not_tls_mid_session():
    """Plaintext bytes where TLS records belong, after the handshake."""
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"STARTTLS")
        s = c.starttls()
        c.cmd(b"EHLO x")
        # underneath the TLS layer, on the raw socket
        raw = socket.socket(fileno=s.detach())
        raw.sendall(b"\x15\x03\x03\x00\x02\x02\x28" + b"garbage\r\n" * 10)
        try:
            raw.settimeout(3)
            raw.recv(100)
        except (socket.timeout, OSError):
            pass
        raw.close()
        all_ended(srv)
        expect_in("client read failed", srv.ourlog(), "log")
