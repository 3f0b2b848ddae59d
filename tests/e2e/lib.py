"""Test harness for starttls: real tcpserver, real clients, real certificates.

Everything listens on 127.0.0.1 only, every wait is bounded, and every
process started here is stopped here, by PID.
"""
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

# this file is TOP/tests/e2e/lib.py
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# make check-asan points this at a sanitizer build
BUILD = os.path.abspath(os.environ.get("STARTTLS_BUILD") or
                        os.path.join(TOP, "build"))
WORK = tempfile.mkdtemp(prefix="starttls-test.")
CERTS = os.path.join(WORK, "certs")
# As root, the servers run as nobody, as qmail-smtpd runs as qmaild:
# starttls-smtpd refuses to run as root.  They must reach the test files,
# and the programs they run: a clone in root's home or in a mktemp -d
# directory (mode 700) is out of nobody's reach, so those programs run
# from copies in WORK, wherever the clone is.
os.chmod(WORK, 0o755)
STAGED = os.path.join(WORK, "bin")
if os.geteuid() == 0:
    _pw = pwd.getpwnam("nobody")
    AS_USER = ["-u", str(_pw.pw_uid), "-g", str(_pw.pw_gid)]
else:
    AS_USER = []


def stage(path):
    """path copied into STAGED (if it is there: make builds it), mode 755:
    the copy's path."""
    os.makedirs(STAGED, mode=0o755, exist_ok=True)
    copy = os.path.join(STAGED, os.path.basename(path))
    if os.path.exists(path) and not os.path.exists(copy):
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o755)
    return copy


SMTPD = stage(os.path.join(BUILD, "starttls-smtpd"))
STANDIN = stage(os.path.join(BUILD, "qmail-smtpd-standin"))
QUEUE = stage(os.path.join(BUILD, "qmail-queue-standin"))
RECEIVED = stage(os.path.join(BUILD, "starttls-received"))
MEASURE = stage(os.path.join(BUILD, "measure"))
ODD = stage(os.path.join(TOP, "tests", "standins", "oddserver.py"))
# make check-valgrind: run our programs under valgrind, logs in this dir
VALGRIND = os.environ.get("STARTTLS_VALGRIND")


def under_valgrind(argv):
    if not VALGRIND:
        return list(argv)
    return ["valgrind", "-q", "--vgdb=no", "--log-file=%s/vg.%%p" % VALGRIND,
            "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", "--trace-children=no"] + list(argv)


class Fail(Exception):
    pass


def collector():
    """A test module's list of tests and the decorator that fills it, for
    tests/run.py:  TESTS, test = collector()"""
    tests = []

    def test(fn):
        tests.append(fn)
        return fn
    return tests, test


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def expect_eq(got, want, what):
    if got != want:
        raise Fail("%s: got %r, want %r" % (what, got, want))


def expect_in(needle, hay, what):
    if needle not in hay:
        raise Fail("%s: %r not in %r" % (what, needle, hay[-600:]))


def expect_not_in(needle, hay, what):
    if needle in hay:
        raise Fail("%s: %r unexpectedly in %r" % (what, needle, hay[-600:]))


def make_certs():
    if not os.path.exists(os.path.join(CERTS, "tlsclients")):
        subprocess.run(["sh", os.path.join(TOP, "tests", "mkcerts.sh"),
                        CERTS], check=True, timeout=60)


def cert(name):
    return os.path.join(CERTS, name)


def read_log(path):
    """A log file's text so far; "" before it exists."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def encrypted_key(name, traditional=False):
    """cert(name + ".key") with a passphrase, as PKCS#8 or, traditional,
    with OpenSSL's old "Proc-Type: 4,ENCRYPTED" header."""
    argv = ["openssl", "pkey", "-in", cert(name + ".key"), "-aes256",
            "-passout", "pass:secret"]
    if traditional:
        argv = ["openssl", "rsa", "-in", cert(name + ".key"), "-aes256",
                "-passout", "pass:secret", "-traditional"]
    return subprocess.run(argv, capture_output=True, check=True,
                          timeout=30).stdout.decode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, step=0.02):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


_serial = [0]


def backlog(tcpopts):
    """tcpserver's -b for these options: twice the -c concurrency (its
    default is 40), so that a burst of -c connections never fills it."""
    opts = list(tcpopts)
    if "-b" in opts:
        return []
    conc = int(opts[opts.index("-c") + 1]) if "-c" in opts else 40
    return ["-b", str(2 * conc)]


class Server:
    """tcpserver on 127.0.0.1 running a chain ending in the qmail stand-in.

    chain: the argv after tcpserver's address, with the words SMTPD,
    STANDIN and ODD replaced by the built programs.  control: extra or
    replacement control files (name -> text, or None to leave one out).
    """

    def __init__(self, chain=("SMTPD", "STANDIN"), control=None, env=None,
                 rules=None, tcpopts=(), host="127.0.0.1", port=None):
        """tcpopts: more tcpserver options.  A -c (concurrency) brings a
        listen backlog (-b) to match: with tcpserver's default of 20, a
        burst of more connections overflows the accept queue, and Linux
        may then drop a SYN-cookie client's last ACK, leaving a client
        connected to a server that never saw it."""
        _serial[0] += 1
        self.dir = os.path.join(WORK, "srv%03d" % _serial[0])
        self.home = os.path.join(self.dir, "home")
        self.control = os.path.join(self.home, "control")
        self.rec = os.path.join(self.dir, "rec")
        self.logpath = os.path.join(self.dir, "log")
        os.makedirs(self.control)
        os.makedirs(os.path.join(self.home, "bin"))
        os.symlink(QUEUE, os.path.join(self.home, "bin", "qmail-queue"))
        os.makedirs(self.rec)
        os.chmod(self.rec, 0o777)      # the servers write their records
        files = {
            "me": "standin.example.org\n",
            "rcpthosts": "example.org\n",
            "servercert.pem": open(cert("servercert.pem")).read(),
            "clientca.pem": open(cert("clientca.pem")).read(),
            "tlsclients": open(cert("tlsclients")).read(),
        }
        files.update(control or {})
        for name, text in files.items():
            if text is not None:
                with open(os.path.join(self.control, name), "w") as f:
                    f.write(text)
        words = {"STANDIN": STANDIN, "ODD": ODD}
        self.chain = []
        for w in chain:
            self.chain += under_valgrind([SMTPD]) if w == "SMTPD" else \
                [words.get(w, w)]
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("SSL_") or k in ("SMTPS", "UCSPITLS",
                                             "TLSCIPHERS", "RELAYCLIENT",
                                             "QMAILQUEUE"):
                del self.env[k]
        self.env.update({"STANDIN_HOME": self.home,
                         "STANDIN_RECORD": self.rec,
                         "STARTTLS_CONTROLDIR": self.control,
                         "STARTTLS_RECEIVED": RECEIVED})
        self.env.update(env or {})
        self.rules = rules
        self.tcpopts = AS_USER + backlog(tcpopts) + list(tcpopts)
        self.proc = None
        self.host = host
        self.want_port = port       # None: any free one
        self.port = None
        self.probes = 0

    def start(self):
        pre = []
        if self.rules is not None:
            cdb = os.path.join(self.dir, "rules.cdb")
            subprocess.run(["tcprules", cdb, cdb + ".tmp"],
                           input=self.rules.encode(), check=True, timeout=10)
            pre = ["-x", cdb]
        for attempt in range(5):
            self.port = self.want_port or free_port()
            log = open(self.logpath, "ab")
            self.proc = subprocess.Popen(
                ["tcpserver", "-v", "-R", "-H", "-l", "localhost"] +
                self.tcpopts + pre + [self.host, str(self.port)] +
                self.chain, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=log)
            log.close()
            if wait_for(lambda: self._listening(), timeout=5):
                return self
            self.proc.kill()
            self.proc.wait()
        raise Fail("tcpserver did not start: " + self.log())

    def _listening(self):
        if self.proc.poll() is not None:
            return False
        try:
            socket.create_connection((self.host, self.port), 0.2).close()
        except OSError:
            return False
        # that probe was a session too: let it end, and forget it
        self.probes += 1
        wait_for(lambda: self.log().count("tcpserver: end ") >= self.probes,
                 timeout=5)
        for f in glob.glob(os.path.join(self.rec, "*")):
            os.unlink(f)
        return True

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.idle()
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def idle(self, timeout=10):
        """Wait until every session tcpserver started has ended."""
        return wait_for(lambda: self.log().count("tcpserver: end ") >=
                        self.log().count("tcpserver: ok "), timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    def log(self):
        return read_log(self.logpath)

    def ourlog(self):
        return "\n".join(l for l in self.log().splitlines()
                         if l.startswith("starttls-smtpd:"))

    # what the servers behind us saw, oldest session first
    def sessions(self):
        pids = [int(os.path.basename(p)[:-4])
                for p in glob.glob(os.path.join(self.rec, "*.env"))]
        pids.sort(key=lambda p: os.stat(os.path.join(self.rec, "%d.env" % p))
                  .st_mtime_ns)
        return pids

    def senv(self, pid):
        env = {}
        with open(os.path.join(self.rec, "%d.env" % pid)) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                env[k] = v
        return env

    def sin(self, pid):
        try:
            with open(os.path.join(self.rec, "%d.in" % pid), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def sfds(self, pid):
        """The descriptors beyond 0, 1 and 2 that server pid started with,
        as "fd target" (where /proc tells)."""
        with open(os.path.join(self.rec, "%d.fds" % pid)) as f:
            return f.read().splitlines()

    def sexit(self, pid):
        p = os.path.join(self.rec, "%d.exit" % pid)
        if not wait_for(lambda: os.path.exists(p), 5):
            return None
        return int(open(p).read())

    def messages(self):
        """[(sender, [recipients], message bytes)] in arrival order."""
        out = []
        envs = glob.glob(os.path.join(self.rec, "*.envelope"))
        # file times tick in milliseconds: two messages of one session
        # can share one, and then the queue programs' pids (the file
        # names), started one after the other, tell the order
        envs.sort(key=lambda p: (os.stat(p).st_mtime_ns, int(
            os.path.basename(p).split(".")[0])))
        for e in envs:
            lines = open(e).read().splitlines()
            msg = open(e[:-len("envelope")] + "msg", "rb").read()
            out.append((lines[0][1:], [l[1:] for l in lines[1:]], msg))
        return out


class Client:
    """A raw SMTP client that can switch to TLS, for byte-exact tests."""

    def __init__(self, port, timeout=10, family=socket.AF_INET,
                 host="127.0.0.1", source=None):
        """source: the address to connect from (any of 127.0.0.0/8 is
        this host's), for tests of per-client rules."""
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.s = self.sock
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """One whole reply, all its lines, as bytes."""
        out = b""
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise Fail("connection closed; got %r" % (out + self.buf))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            out += line + b"\n"
            if len(line) < 4 or line[3:4] != b"-":
                return out

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def begin(self, tls=False):
        """The greeting, STARTTLS when tls, then EHLO: a session ready for
        MAIL, in plaintext or inside TLS.  The last EHLO reply."""
        self.reply()
        if tls:
            self.cmd(b"EHLO x")
            expect(self.cmd(b"STARTTLS").startswith(b"220"), "STARTTLS")
            self.starttls()
        return self.cmd(b"EHLO x")

    def mail(self, rcpt=b"u@example.org", body=b"Subject: t\r\n\r\nhello\r\n",
             sender=b"a@b.org"):
        """MAIL, RCPT and, if the recipient is taken, DATA and the body:
        (the RCPT reply, the reply to the message or None)."""
        expect(self.cmd(b"MAIL FROM:<" + sender + b">").startswith(b"250"),
               "MAIL")
        r = self.cmd(b"RCPT TO:<" + rcpt + b">")
        if not r.startswith(b"250"):
            return r, None
        expect_eq(self.cmd(b"DATA"), b"354 go ahead\r\n", "DATA")
        self.send(body + b".\r\n")
        return r, self.reply()

    def rest(self, timeout=2.0):
        """Whatever arrives until EOF or a quiet spell."""
        self.s.settimeout(timeout)
        out = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ssl.SSLError, ConnectionError):
            pass
        return out

    def starttls(self, certname=None, version=None, sni="localhost"):
        expect_eq(self.buf, b"", "plaintext bytes after 220")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cert("ca.pem"))
        if certname:
            ctx.load_cert_chain(cert(certname + ".pem"),
                                cert(certname + ".key"))
        if version == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        elif version == "1.3":
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.s = ctx.wrap_socket(self.sock, server_hostname=sni)
        return self.s

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def pem_line(path, kind):
    """A line from the middle of the first PEM block of kind ("PRIVATE
    KEY", "CERTIFICATE") in path: what a copy of it in memory contains."""
    text = open(path).read()
    begin = text.index("-----BEGIN " + kind)
    block = text[begin:text.index("-----END " + kind, begin)].splitlines()
    return block[len(block) // 2].encode()


def memory_holds(pid, needle):
    """Does a writable private mapping of process pid hold needle?  None
    when that cannot be told: its memory cannot be read (not root, or
    Yama forbids it), or it is a sanitizer build, whose allocator keeps
    the heap in regions of terabytes."""
    if os.environ.get("ASAN_OPTIONS"):
        return None
    chunk = 1 << 20
    try:
        regions = []
        for line in open("/proc/%d/maps" % pid):
            addr, perms = line.split()[:2]
            if perms.startswith("rw") and perms[3] == "p":
                start, end = (int(x, 16) for x in addr.split("-"))
                if end - start <= 1 << 30:
                    regions.append((start, end))
        with open("/proc/%d/mem" % pid, "rb", 0) as mem:
            for start, end in regions:
                # in chunks that overlap by the needle's length
                for at in range(start, end, chunk):
                    try:
                        mem.seek(at)
                        data = mem.read(min(chunk + len(needle), end - at))
                    except OSError:
                        break
                    if needle in data:
                        return True
    except (PermissionError, FileNotFoundError):
        return None
    return False


def processes():
    """Every process now: [(pid, state, ppid, pgid)], from /proc/*/stat
    (state "Z" for a zombie)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.append((int(pid), st[0], int(st[1]), int(st[2])))
    return out


def proc_status(pid):
    """/proc/PID/status as {field: value}."""
    with open("/proc/%s/status" % pid) as f:
        return dict(l.split(":", 1) for l in f.read().splitlines()
                    if ":" in l)


def pids_of(exe):
    """The pids of the running processes whose program is exe."""
    out = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink("/proc/%s/exe" % pid) == exe:
                out.append(int(pid))
        except OSError:
            pass
    return out


def normalize(replies):
    """Take out what differs between two runs of the stand-in."""
    return re.sub(rb"250 ok \d+ qp \d+", b"250 ok T qp P", replies)


def run(argv, input=None, timeout=30, env=None):
    """Run argv to its end, in a process group of its own: on timeout the
    whole group is killed (a load generator's workers too), and the test
    fails with what it had printed."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None
                         else subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(input, timeout=timeout)
    except BaseException:
        # a timeout, or the suite's own alarm: nothing of it may stay
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        raise Fail("%s: killed after %s s; stdout %r, stderr %r" % (
            os.path.basename(argv[0]), timeout, out[-600:], err[-600:]))
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def cleanup():
    shutil.rmtree(WORK, ignore_errors=True)
