"""Load: 100 concurrent STARTTLS sessions through real tcpserver and
starttls-smtpd, 2000 messages of mixed sizes, half the sessions relaying
by client certificate.  Every message must arrive exactly once and
intact, no session may hang, every process must end, no server behind
may inherit a descriptor of ours, and a session's memory must not grow
as the run goes on.
"""
import os
import re
import socket
import statistics
import time

from lib import (collector, BUILD, MEASURE, Server, backlog, cert, expect,
                 expect_eq, expect_in, run)

TESTS, test = collector()

# A hang guard, not a speed limit: how fast this goes is make bench's
# business.  loadgen's own -t 30 ends a session that stalls; this ends a
# run that stalls as a whole, with room for a machine that is busy with
# other work (it ran 66 s of the 60 it once had, beside a compiler).
LOAD_DEADLINE = 300


def mixmsg(i, j, maxsize):
    """What loadgen -z sends as message j of session i (see loadgen.c)."""
    size = 200 + (i * 7919 + j * 104729) % (maxsize - 200 + 1)
    text = b"X-Load: %d %d\r\n\r\n" % (i, j)
    line = 0
    while len(text) < size:
        rem = size - len(text)
        n = 76 if rem > 78 else (rem - 2 if rem > 3 else 1)
        text += bytes([97 + (i + j + line) % 26]) * n + b"\r\n"
        line += 1
    return text


@test
def load_2000_messages_100_concurrent():
    sessions, per, maxsize = 200, 10, 65536
    srv = Server(tcpopts=["-c", "100"])
    # in the record directory, which the servers (as nobody) can write,
    # and which is emptied after the readiness probe
    mlog = os.path.join(srv.rec, "measure.log")
    srv.chain = [MEASURE, mlog, "F"] + srv.chain
    with srv:
        p = run([os.path.join(BUILD, "loadgen"), "-T", "-n", str(sessions),
                 "-c", "100", "-m", str(per), "-z", "-s", str(maxsize),
                 "-K", cert("client-combined.pem"), "-t", "30",
                 "127.0.0.1", str(srv.port)], timeout=LOAD_DEADLINE)
        out = dict(kv.split("=") for kv in p.stdout.decode().split())
        expect_eq(out.get("failed"), "0", "failed sessions: " +
                  p.stdout.decode() +
                  p.stderr.decode(errors="replace"))
        expect_eq(out.get("messages"), str(sessions * per), "messages")
        expect(srv.idle(30), "sessions still running after the load")

        # every message exactly once, byte for byte, to the right place
        seen = {}
        for sender, rcpts, data in srv.messages():
            m = re.search(rb"^X-Load: (\d+) (\d+)\n", data, re.M)
            expect(m, "message without X-Load header")
            i, j = int(m.group(1)), int(m.group(2))
            expect((i, j) not in seen, "message %d/%d twice" % (i, j))
            seen[(i, j)] = 1
            want = mixmsg(i, j, maxsize).replace(b"\r\n", b"\n")
            expect(data[m.start():] == want, "message %d/%d damaged" %
                   (i, j))
            expect_eq(rcpts, ["far@foreign.net" if i % 2 else
                              "sink@example.org"], "recipient of %d" % i)
        expect_eq(len(seen), sessions * per, "distinct messages")

        # every server behind us ended; two per STARTTLS session
        pids = srv.sessions()
        expect_eq(len(pids), 2 * sessions, "qmail-smtpd processes")
        expect(all(srv.sexit(pid) is not None for pid in pids),
               "a qmail-smtpd never ended")
        # and none was handed a descriptor of ours
        leaked = [pid for pid in pids if srv.sfds(pid)]
        expect_eq(leaked, [], "servers started with extra descriptors")

    # memory flat: the last sessions are no bigger than the first
    rss = [int(re.search(r"maxrss_kb=(\d+)", l).group(1))
           for l in open(mlog) if l.startswith("F ")]
    expect_eq(len(rss), sessions, "measured sessions")
    first, last = statistics.median(rss[:40]), statistics.median(rss[-40:])
    expect(last <= first * 1.1, "RSS grew: %d -> %d KiB" % (first, last))


@test
def loadgen_lost_connection_is_a_counted_failure():
    """A connection the server never saw (a dropped SYN-cookie ACK) looks
    to the client like a server that never speaks: loadgen must count it
    as a failed session with a reason, within its deadline, not hang."""
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(8)                  # connections queue, nobody answers
    try:
        t = time.time()
        p = run([os.path.join(BUILD, "loadgen"), "-n", "3", "-c", "3",
                 "-t", "1", "127.0.0.1", str(mute.getsockname()[1])],
                timeout=30)
        expect(time.time() - t < 10, "took %.1f s" % (time.time() - t))
        out = dict(kv.split("=") for kv in p.stdout.decode().split())
        expect_eq(out.get("failed"), "3", "failed sessions")
        expect_eq(p.returncode, 1, "exit")
        expect_in("loadgen: session 0: greeting: timed out",
                  p.stderr.decode(), "reason")
    finally:
        mute.close()


@test
def tcpserver_backlog_sized_with_concurrency():
    expect_eq(backlog(["-c", "100"]), ["-b", "200"], "-c 100")
    expect_eq(backlog([]), ["-b", "80"], "tcpserver's default -c 40")
    expect_eq(backlog(["-c", "5", "-b", "7"]), [], "-b given")
