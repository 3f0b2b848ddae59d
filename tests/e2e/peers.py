"""SMTP servers for the tests of starttls-remote, and a harness that runs
it exactly as qmail-rspawn does.

Aiosmtpd is a real SMTP server (python3-aiosmtpd), with knobs for the
cases a real server shows: STARTTLS or not, a 454 to STARTTLS, a client
certificate asked for, 4xx/5xx at each stage.  Scripted is a raw server
for what no honest server does: injecting replies after its 220 to
STARTTLS, dropping STARTTLS, endless reply lines, dying after the ".".
"""
import logging
import os
import pwd
import socket
import ssl
import subprocess
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from lib import BUILD, WORK, cert, under_valgrind, wait_for

# the tests break handshakes on purpose; aiosmtpd need not narrate them
logging.getLogger("mail.log").setLevel(logging.CRITICAL + 1)

REMOTE = os.path.join(BUILD, "starttls-remote")


def server_tls(certname="server", verify_client=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert(certname + ".pem"), cert(certname + ".key"))
    if verify_client:
        ctx.verify_mode = verify_client
        ctx.load_verify_locations(cert("ca.pem"))
    return ctx


class Handler:
    def __init__(self, replies):
        self.replies = replies      # stage -> reply, e.g. {"RCPT": ...}
        self.messages = []          # (sender, rcpts, data, tls info)
        self.commands = []

    async def handle_MAIL(self, server, session, envelope, address, opts):
        self.commands.append("MAIL")
        if "MAIL" in self.replies:
            return self.replies["MAIL"]
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, opts):
        self.commands.append("RCPT " + address)
        for key in ("RCPT " + address, "RCPT"):
            if key in self.replies:
                return self.replies[key]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.commands.append("DATA")
        if "MESSAGE" in self.replies:
            return self.replies["MESSAGE"]
        tls = None
        if session.ssl:
            obj = session.ssl.get("ssl_object")
            peer = obj.getpeercert() if obj else None
            tls = {"version": obj.version() if obj else None, "peer": peer}
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content, tls))
        return "250 2.0.0 Ok: queued as 12345"


class _SMTP(SMTP):
    """aiosmtpd's server, with a few stages that can be made to refuse."""

    def __init__(self, handler, replies, **kw):
        super().__init__(handler, **kw)
        self._replies = replies

    async def smtp_STARTTLS(self, arg):
        if "STARTTLS" in self._replies:
            return await self.push(self._replies["STARTTLS"])
        return await super().smtp_STARTTLS(arg)

    async def smtp_EHLO(self, hostname):
        if "EHLO" in self._replies:
            return await self.push(self._replies["EHLO"])
        return await super().smtp_EHLO(hostname)

    async def smtp_DATA(self, arg):
        if "DATA" in self._replies:
            return await self.push(self._replies["DATA"])
        return await super().smtp_DATA(arg)


class _Controller(Controller):
    def __init__(self, handler, replies, tls_context, **kw):
        self._rep = replies
        self._tls = tls_context
        super().__init__(handler, **kw)

    def factory(self):
        return _SMTP(self.handler, self._rep, tls_context=self._tls,
                     hostname="peer.example", decode_data=False,
                     enable_SMTPUTF8=False, data_size_limit=None)


class Aiosmtpd:
    def __init__(self, tls=True, certname="server", verify_client=None,
                 replies=None, host="127.0.0.1", port=None):
        self.handler = Handler(replies or {})
        self.host = host
        self.port = port or _free_port(host)
        ctx = server_tls(certname, verify_client) if tls else None
        self.ctl = _Controller(self.handler, replies or {}, ctx,
                               hostname=host, port=self.port,
                               ready_timeout=10)

    def __enter__(self):
        self.ctl.start()
        return self

    def __exit__(self, *a):
        self.ctl.stop()

    @property
    def messages(self):
        return self.handler.messages


def _free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam)
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Scripted:
    """A raw server: fn(conn) runs for each connection in its own thread."""

    def __init__(self, fn, host="127.0.0.1", port=0, backlog=16):
        self.fn = fn
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.seen = []              # every line read, per connection
        self.errors = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *a):
        self._stop = True
        self._t.join(5)
        self.sock.close()

    def _run(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            lines = []
            self.seen.append(lines)
            threading.Thread(target=self._one, args=(c, lines),
                             daemon=True).start()

    def _one(self, c, lines):
        c.settimeout(10)
        conn = Conn(c, lines)
        try:
            self.fn(conn)
        except Exception as e:          # the client may hang up: fine
            self.errors.append(e)
        finally:
            try:
                conn.s.close()
            except OSError:
                pass


class Conn:
    def __init__(self, s, lines):
        self.s = s
        self.buf = b""
        self.lines = lines

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("client closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line)
        return line

    def expect(self, verb):
        line = self.line()
        if not line.upper().startswith(verb):
            raise AssertionError("wanted %r, got %r" % (verb, line))
        return line

    def data(self):
        """The message after 354, up to the final dot."""
        out = b""
        while True:
            line = self.line()
            if line == b".\r":
                return out
            out += line + b"\n"

    def starttls(self, certname="server"):
        self.s = server_tls(certname).wrap_socket(self.s, server_side=True)


def ordinary(conn, ehlo_tls=True, after_starttls=None):
    """An honest server, with the hooks a test needs."""
    conn.send(b"220 scripted.example ESMTP\r\n")
    tls = False
    while True:
        line = conn.line().rstrip(b"\r")
        verb = line.split(b" ")[0].upper()
        if verb == b"EHLO":
            conn.send(b"250-scripted.example\r\n" +
                      (b"250-STARTTLS\r\n" if ehlo_tls and not tls else b"") +
                      b"250 8BITMIME\r\n")
        elif verb == b"STARTTLS":
            conn.send(after_starttls or b"220 go ahead\r\n")
            conn.starttls()
            tls = True
        elif verb == b"DATA":
            conn.send(b"354 go ahead\r\n")
            conn.lines.append(b"MESSAGE:" + conn.data())
            conn.send(b"250 accepted\r\n")
        elif verb == b"QUIT":
            conn.send(b"221 bye\r\n")
            return
        else:
            conn.send(b"250 ok\r\n")


class QmailHome:
    """A qmail home for starttls-remote: control/ and queue/lock/tcpto."""
    _n = [0]

    def __init__(self, routes=None, control=None):
        QmailHome._n[0] += 1
        self.dir = os.path.join(WORK, "qmail%03d" % QmailHome._n[0])
        self.control = os.path.join(self.dir, "control")
        os.makedirs(self.control)
        os.makedirs(os.path.join(self.dir, "queue", "lock"))
        with open(os.path.join(self.dir, "queue", "lock", "tcpto"), "wb") as f:
            f.write(b"\0" * 1024)
        files = {"me": "sender.example\n", "timeoutremote": "10\n",
                 "timeoutconnect": "5\n"}
        if routes:
            files["smtproutes"] = "".join(r + "\n" for r in routes)
        files.update(control or {})
        for name, text in files.items():
            self.put(name, text)

    def put(self, name, text):
        path = os.path.join(self.control, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if text is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        with open(path, "w") as f:
            f.write(text)

    def tcpto(self):
        with open(os.path.join(self.dir, "queue", "lock", "tcpto"), "rb") as f:
            return f.read()

    def set_tcpto(self, data):
        with open(os.path.join(self.dir, "queue", "lock", "tcpto"), "r+b") as f:
            f.write(data)


class Result:
    def __init__(self, raw, status):
        self.raw = raw
        self.status = status
        parts = raw.split(b"\0")
        self.complete = raw.endswith(b"\0")
        self.parts = [p.decode("latin-1") for p in parts[:-1]]
        self.rcpts = self.parts[:-1]
        self.final = self.parts[-1] if self.parts else ""

    def __repr__(self):
        return "Result(%r, exit %r)" % (self.raw, self.status)

    def rspawn(self):
        """What qmail-rspawn makes of it for one recipient (its report()):
        the letter qmail-send acts on, and the text it logs."""
        if self.status < 0:
            return "Z", "qmail-remote crashed.\n"
        if self.status == 111:
            return "Z", "Unable to run qmail-remote.\n"
        if self.status != 0:
            return "D", "Unable to run qmail-remote.\n"
        s = self.raw
        if not s:
            return "Z", "qmail-remote produced no output.\n"
        result, j = -1, 0
        for k in range(len(s)):
            if s[k] == 0:
                c = s[j:j + 1]
                if c == b"K":
                    result = 1
                    break
                if c == b"Z":
                    result = 0
                    break
                if c == b"D":
                    break
                j = k + 1
        orr = {b"s": 0, b"h": -1}.get(s[:1], result)
        letter = {1: "K", 0: "Z", -1: "D"}[orr]
        text = b""
        first = s.find(b"\0", 1)
        if first != -1:
            text = s[1:first]
            k = first + 1
            if result <= orr and k < len(s) and s[k:k + 1] in b"ZDK":
                end = s.find(b"\0", k)
                text += s[k + 1:end if end != -1 else len(s)]
        return letter, text.decode("latin-1")


def remote(home, host, sender, rcpts, message, env=None, timeout=60):
    """Run starttls-remote as qmail-rspawn does: the message on fd 0 (a
    seekable file), fds 1 and 2 the same pipe."""
    msg = os.path.join(home.dir, "message")
    with open(msg, "wb") as f:
        f.write(message)
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "STARTTLS_QMAILHOME": home.dir,
         # a dead test resolver should fail in a second, not in ten
         "RES_OPTIONS": "timeout:1 attempts:1"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):    # make check-asan
        if k in os.environ:
            e[k] = os.environ[k]
    e.update(env or {})
    with open(msg, "rb") as stdin:
        p = subprocess.run(under_valgrind([REMOTE, host, sender]) +
                           list(rcpts), stdin=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=e, timeout=timeout)
    return Result(p.stdout, p.returncode)


class Dnsmasq:
    """A DNS server on 127.0.0.1 for MX tests, reached via $DNSCACHEIP."""

    def __init__(self, args):
        self.port = _free_port()
        self.proc = subprocess.Popen(
            ["dnsmasq", "--no-daemon", "--conf-file=/dev/null",
             "--port=%d" % self.port, "--listen-address=127.0.0.1",
             "--bind-interfaces", "--no-resolv", "--no-hosts",
             # answer for these zones as their owner would: NODATA and
             # NXDOMAIN, not REFUSED for want of an upstream server
             "--local=/test/", "--local=/localhost/",
             "--user=" + pwd.getpwuid(os.getuid()).pw_name,
             "--pid-file=" + os.path.join(WORK, "dnsmasq%d.pid" % self.port)]
            + args,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.env = {"DNSCACHEIP": "127.0.0.1#%d" % self.port}

    def __enter__(self):
        wait_for(lambda: self._up(), 5)
        return self

    def _up(self):
        if self.proc.poll() is not None:
            raise RuntimeError("dnsmasq: " + self.proc.stderr.read().decode())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # any well-formed query; a reply means it is serving
            s.settimeout(0.2)
            s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                     b"\x04test\x00\x00\x01\x00\x01", ("127.0.0.1", self.port))
            s.recv(512)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def __exit__(self, *a):
        self.proc.terminate()
        self.proc.wait(5)


_shared = []


def names():
    """The environment for a dnsmasq that knows "localhost" (the name in
    the test server certificate), shared by the tests that need a name."""
    if not _shared:
        d = Dnsmasq(["--host-record=localhost,127.0.0.1",
                     "--host-record=mail.test,127.0.0.1"])
        d.__enter__()
        _shared.append(d)
    return _shared[0].env


def stop_names():
    while _shared:
        _shared.pop().__exit__()
