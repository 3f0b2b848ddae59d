#!/usr/bin/python3
"""make bench: starttls-smtpd against no TLS and tlswrapper-smtp, side by side.

Every front runs under a real tcpserver on 127.0.0.1 with the same backend
and certificate, and is driven by build/loadgen (C, OpenSSL).  For each:

  sessions   -d seconds of sessions at concurrency C, in two modes:
             STARTTLS (EHLO, STARTTLS, handshake, EHLO, MAIL, RCPT, DATA of
             S bytes, QUIT) and plaintext (the same without STARTTLS: what
             spam bots, probes and most senders without TLS do), behind the
             qmail-smtpd stand-in; sessions/s, p50/p99 latency and the
             whole machine's CPU per session, taken apart (below); front
             peak RSS per session from a second, short run under
             build/measure
  throughput -D seconds of 20 MB messages, one at a time, behind the
             stand-in and behind nullsmtpd; MB/s over the DATA phase alone

The whole machine's CPU per session is its busy time in /proc/stat over
the run (every CPU's user, nice, system, irq, softirq and steal time),
divided by the sessions, and is taken apart into

  front      tcpserver and the front's processes: a cgroup v2 made for the
             run holds tcpserver, so everything it forks; its cpu.stat
             usage, less the backends'
  backends   the qmail-smtpd stand-in (or nullsmtpd) and the qmail-queue
             stand-in: each backend is started through build/cgjoin, which
             moves it into a child cgroup of the server's
  loadgen    the load generator, its own rusage (RUSAGE_CHILDREN)
  kthreads   kernel threads (ksoftirqd, kworkers, ...): the utime and stime
             of every process with PF_KTHREAD, from /proc/PID/stat
  rest       the remainder: other processes on the machine, this harness,
             steal time, and the difference between /proc/stat's tick
             sampling and the cgroups' exact run time

so that the five add up to the whole by construction, and the rest says
how much of the whole the others do not explain.  softirq is shown beside
them, not as a part: without CONFIG_IRQ_TIME_ACCOUNTING a softirq is
charged to the task it interrupted (for loopback, mostly the sender) or to
ksoftirqd, so it is already inside the parts.  Without a writable cgroup
v2 the front and backends are not split out and the tree falls into rest.

Every message is checked on arrival (count and checksum), so a fast figure
cannot hide lost mail.  The table is printed as Markdown, with the ratios
against the targets of the benchmark issue.

The scale curve (--scale, on by default) measures what a certificate per
server name costs: starttls-smtpd again, once for each count N given,
with a control directory of its own whose servercerts/ holds N named
certificates (made for this run: one RSA key, each certificate for its
own name, signed by the test CA; N = 0 is an empty servercerts/).  Its
STARTTLS TLS 1.2 sessions name the last of the N in the handshake (SNI),
or with none a name that has no file, and loadgen -V fails any session
not served that name's certificate (servercert.pem's, with none); its
plaintext sessions never get that far.  Sessions/s, the machine's CPU
per session with its parts and the front's peak RSS are shown against N,
and the cost of the most names against the fewest, round by round.

Each figure is the median of -r rounds, the fronts taking turns, with
the smallest and largest of them beside it.  A quick look: -d 1 -D 1 -r 1
(-f ours --scale '' for starttls-smtpd alone).

  tests/bench/bench.py [-d seconds] [-D seconds] [-c concurrency] [-s bytes]
                 [-m megabytes] [-r rounds] [-f front,...]
                 [--front 'name=program [arg ...]' ...]
                 [--front-notls 'name=program [arg ...]' ...]
                 [--scale count,...]

--front adds another build or setting of starttls-smtpd (keys extra0,
extra1, ... in the order given), e.g. --front 'no Received=build/starttls-
smtpd -Q ""' (the command is split as a shell would); --front-notls adds
one that finds no servercert.pem in its control directory, so offers no
TLS, and is measured in plaintext sessions only.
"""
import argparse
import glob
import hashlib
import os
import re
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

# the end-to-end tests' harness: certificates, staging, processes
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "e2e"))
import lib  # noqa: E402

B = lib.BUILD
M = os.path.join(B, "measure")
LOADGEN = os.path.join(B, "loadgen")
NULL = os.path.join(B, "nullsmtpd")
CGJOIN = os.path.join(B, "cgjoin")
HZ = os.sysconf("SC_CLK_TCK")
CIPHER12 = "ECDHE-RSA-AES128-GCM-SHA256"
# the scale curve's server names: the i-th, and one that has no file
NAMED = "n%03d.names.example.org"
UNNAMED = "absent.names.example.org"
# the most names the scale curve makes certificates for (a few seconds
# per hundred); starttls-smtpd itself has no limit
NAMED_MAX = 2000


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def machine():
    """The machine's limits: AES-128-GCM, RSA-2048 signing, fork+exec."""
    out = {}
    p = sh(["openssl", "speed", "-seconds", "1", "-evp", "aes-128-gcm"])
    m = re.search(r"^AES-128-GCM\s+(.*)$", p.stdout, re.M)
    if m:
        out["aes"] = float(m.group(1).split()[-1].rstrip("k")) * 1000 / 1e9
    p = sh(["openssl", "speed", "-seconds", "1", "rsa2048"])
    m = re.search(r"^rsa\s+2048 bits\s+\S+s\s+\S+s\s+(\S+)", p.stdout, re.M)
    if m:
        out["rsa"] = float(m.group(1))
    n = 300
    t = time.time()
    subprocess.run(["sh", "-c", "i=0; while [ $i -lt %d ]; do /bin/true; "
                    "i=$((i+1)); done" % n])
    out["forkexec"] = (time.time() - t) / n * 1000
    return out


def kthreads():
    """CPU ms so far of every kernel thread alive now (PF_KTHREAD)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue
        v = st[st.rindex(")") + 2:].split()
        if int(v[6]) & 0x00200000:
            total += int(v[11]) + int(v[12])
    return total * 1000.0 / HZ


class Cgroups:
    """The server's process tree in a cgroup v2 made for this run, its
    backends in a child cgroup of it.  why says why not, if not."""

    def __init__(self):
        self.why, self.base = None, None
        mnt = [l.split()[1] for l in open("/proc/mounts")
               if l.split()[2] == "cgroup2"]
        if not mnt:
            self.why = "cgroup v2 is not mounted"
            return
        base = os.path.join(mnt[0], "starttls-bench.%d" % os.getpid())
        self.server = os.path.join(base, "server")
        self.back = os.path.join(self.server, "back")
        try:
            for d in (base, self.server, self.back):
                os.mkdir(d)
                self.base = base
            # the backends run as another user and move themselves from
            # the server's cgroup into theirs: both cgroup.procs must let
            # them write
            for d in (self.server, self.back):
                os.chmod(os.path.join(d, "cgroup.procs"), 0o666)
            user = ["setpriv", "--reuid", lib.AS_USER[1], "--regid",
                    lib.AS_USER[3], "--clear-groups"] if lib.AS_USER else []
            p = sh(user + [CGJOIN, self.back, "true"],
                   preexec_fn=lambda: self.join(self.server))
            if p.returncode != 0:
                raise OSError(p.stderr.strip())
            self.usage(self.server)
        except OSError as e:
            self.why = "cannot use cgroup v2 at %s: %s" % (mnt[0], e)

    def join(self, d):
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write("0\n")

    def usage(self, d):
        """CPU ms so far of the cgroup d and its descendants."""
        with open(os.path.join(d, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) / 1000.0
        raise OSError("no usage_usec in %s/cpu.stat" % d)

    def settle(self, pid):
        """Wait until the server's tree is tcpserver alone: the last
        sessions' processes have exited and their CPU is counted."""
        end = time.time() + 10
        while time.time() < end:
            procs = []
            for d in (self.server, self.back):
                with open(os.path.join(d, "cgroup.procs")) as f:
                    procs += f.read().split()
            if procs == [str(pid)]:
                return
            time.sleep(0.02)
        raise RuntimeError("the server's processes did not exit")

    def remove(self):
        if self.base:
            for d in (self.back, self.server, self.base):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


def snapshot(cg):
    """Every counter the breakdown is made of, in ms so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = {"machine": (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000.0 / HZ,
         "softirq": v[6] * 1000.0 / HZ,
         "loadgen": (ru.ru_utime + ru.ru_stime) * 1000.0,
         "kthreads": kthreads()}
    if cg.why is None:
        s["tree"], s["back"] = cg.usage(cg.server), cg.usage(cg.back)
    return s


def breakdown(a, b, n):
    """The whole machine's CPU ms per session and its parts, from the
    snapshots a and b around n sessions."""
    d = {k: (b[k] - a[k]) / n for k in a}
    out = {"mcpu": d["machine"], "softirq": d["softirq"],
           "loadgen": d["loadgen"], "kthreads": d["kthreads"]}
    if "tree" in d:
        out["front"], out["back"] = d["tree"] - d["back"], d["back"]
    out["rest"] = d["machine"] - d["loadgen"] - d["kthreads"] - d.get(
        "tree", 0)
    return out


class Tcpserver:
    def __init__(self, chain, env, asuser, cg):
        self.port, self.cg = lib.free_port(), cg
        self.log = tempfile.NamedTemporaryFile(prefix="bench-tcpserver.",
                                               delete=False)
        self.proc = subprocess.Popen(
            ["tcpserver", "-c", "200", "-b", "400", "-R", "-H", "-l",
             "localhost"] +
            (lib.AS_USER if asuser else []) +
            ["127.0.0.1", str(self.port)] + chain, env=env,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=(lambda: cg.join(cg.server)) if cg.why is None
            else None)
        if not lib.wait_for(self._up, 5):
            raise RuntimeError("tcpserver did not start")

    def _up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def settle(self):
        if self.cg.why is None:
            self.cg.settle(self.proc.pid)
        else:
            time.sleep(0.3)

    def stop(self):
        time.sleep(0.1)
        self.proc.terminate()
        self.proc.wait(10)
        os.unlink(self.log.name)


def loadgen(srv, mode, size, c, n=None, secs=None, tls=()):
    """mode: "1.2" or "1.3" for STARTTLS sessions, "plain" for none; n
    sessions, or as many as secs seconds take; tls: more loadgen options
    for STARTTLS sessions.  The figures, with the machine's CPU per
    session and its parts (breakdown())."""
    argv = [LOADGEN, "-c", str(c), "-s", str(size)] + (
        ["-n", str(n)] if n else ["-d", str(secs)])
    if mode != "plain":
        argv += ["-T", "-v", mode] + list(tls)
        if mode == "1.2":
            argv += ["-C", CIPHER12]
    before = snapshot(srv.cg)
    p = sh(argv + ["127.0.0.1", str(srv.port)], timeout=600)
    srv.settle()
    after = snapshot(srv.cg)
    d = dict(kv.split("=") for kv in p.stdout.split())
    if p.returncode != 0 or int(d["failed"]) != 0:
        raise RuntimeError("loadgen: %s %s" % (p.stdout, p.stderr))
    d.update(breakdown(before, after, int(d["ok"])))
    return d


class Run:
    """One front with one backend, in a fresh directory; the front's own
    control directory if it has one, else work's."""

    def __init__(self, work, front, backend, cg):
        self.cg = cg
        self.dir = tempfile.mkdtemp(dir=work)
        self.front, self.backend = front, backend
        os.chmod(self.dir, 0o777)      # measure and nullsmtpd log here
        self.rec = os.path.join(self.dir, "rec")
        os.mkdir(self.rec)
        os.chmod(self.rec, 0o777)
        self.nulllog = os.path.join(self.dir, "null.log")
        self.mlog = os.path.join(self.dir, "measure.log")
        self.env = dict(os.environ, STANDIN_HOME=work, STANDIN_RECORD=self.rec,
                        STARTTLS_RECEIVED=lib.RECEIVED,
                        STARTTLS_CONTROLDIR=front.get(
                            "control", os.path.join(work, "control")),
                        NULLSMTPD_LOG=self.nulllog)

    def chain(self, measured):
        back = [lib.STANDIN] if self.backend == "standin" else [NULL]
        if measured:
            back = [M, self.mlog, "B"] + back
        elif self.cg.why is None:
            back = [CGJOIN, self.cg.back] + back
        ch = self.front["chain"](back)
        return ([M, self.mlog, "F"] + ch) if measured else ch

    def go(self, mode, size, c, n=None, secs=None, measured=False):
        srv = Tcpserver(self.chain(measured), self.env,
                        not self.front.get("root"), self.cg)
        try:
            r = loadgen(srv, mode, size, c, n, secs,
                        self.front.get("loadgen", ()))
        finally:
            srv.stop()
        self.check(int(r["ok"]), size, r["checksum"])
        return r

    def check(self, n, size, checksum):
        """Every message arrived, whole."""
        if self.backend == "null":
            lines = open(self.nulllog).read().split("\n")[:-1]
            want = "%d %s" % (size, checksum)
            bad = [l for l in lines if l != want]
            if len(lines) != n or bad:
                raise RuntimeError("%d of %d messages, %d damaged" %
                                   (len(lines), n, len(bad)))
            os.unlink(self.nulllog)
            return
        msgs = glob.glob(os.path.join(self.rec, "*.msg"))
        if len(msgs) != n:
            raise RuntimeError("%d of %d messages arrived" % (len(msgs), n))
        digests = set()
        for m in msgs:
            with open(m, "rb") as f:
                data = f.read()
            digests.add(hashlib.sha256(data.split(b"\n", 2)[2]).hexdigest())
            os.unlink(m)
        for f in glob.glob(os.path.join(self.rec, "*")):
            os.unlink(f)
        if len(digests) != 1:
            raise RuntimeError("messages differ: %d digests" % len(digests))

    def cost(self):
        """Front CPU ms and peak RSS KiB per session, from measure's log."""
        fr, back = [], {}
        for line in open(self.mlog):
            tag, rest = line.split(" ", 1)
            d = {k: int(v) for k, v in (kv.split("=") for kv in rest.split())}
            if tag == "F":
                fr.append(d)
            else:
                back.setdefault(d["ppid"], []).append(d)
        cpu, rss = [], []
        for f in fr:
            b = back.get(f["pid"], []) + back.get(f["self"], [])
            used = f["user_us"] + f["sys_us"] - sum(
                x["user_us"] + x["sys_us"] + x["self_us"] for x in b)
            cpu.append(used / 1000)
            rss.append(f["maxrss_kb"])
        os.unlink(self.mlog)
        return sum(cpu) / len(cpu), sorted(rss)[len(rss) // 2]


def fronts(pem, extra=(), notls=None):
    """The fronts, each with the modes it is measured in: "1.2" and "1.3"
    are STARTTLS sessions with that TLS version, "plain" sessions that
    never say STARTTLS.  extra: (name, argv, tls) triples, other builds
    or settings of starttls-smtpd (an older commit, LibreSSL's libtls,
    an option) measured beside the others; without tls, with a control
    directory that has no servercert.pem, in plaintext sessions only."""
    smtpd = os.path.join(B, "starttls-smtpd")
    out = [{"name": "no TLS (tcpserver -> qmail-smtpd)", "key": "plain",
            "modes": ["plain"], "chain": lambda back: back}]
    if shutil.which("tlswrapper"):
        # tlswrapper and tlswrapper-smtp each build a chroot jail, so
        # they must start as root (the others run as nobody when root)
        out.append({"name": "tlswrapper + tlswrapper-smtp", "key": "tlsw",
                    "modes": ["1.2", "plain"], "root": True,
                    "chain": lambda back: ["tlswrapper", "-n", "-f", pem,
                                           "-c", "AES_128_GCM_SHA256",
                                           "tlswrapper-smtp"] + back})
    out.append({"name": "starttls-smtpd", "key": "ours",
                "modes": ["1.2", "1.3", "plain"],
                "chain": lambda back: [smtpd] + back})
    static = os.path.join(B, "starttls-smtpd-static")
    if os.path.exists(static):
        out.append({"name": "starttls-smtpd, static (make STATIC=1)",
                    "key": "static", "modes": ["1.2", "plain"],
                    "chain": lambda back: [static] + back})
    if os.geteuid() == 0:
        # started as root by tcpserver, it reads the key and becomes the
        # user itself, as a run script without tcpserver -u has it
        out.append({"name": "starttls-smtpd, started as root (-u, -g)",
                    "key": "root", "modes": ["1.2", "plain"], "root": True,
                    "chain": lambda back: [smtpd] + lib.AS_USER + back})
    for i, (name, argv, tls) in enumerate(extra):
        fr = {"name": name, "key": "extra%d" % i,
              "modes": ["1.2", "plain"] if tls else ["plain"],
              "chain": lambda back, argv=argv: argv + back}
        if not tls:
            fr["control"] = notls
        out.append(fr)
    return out


def control(path, named=None, cert=True):
    """A control directory at path, as the fronts read it: me, rcpthosts,
    servercert.pem (unless not cert); and unless named is None, a servercerts/ holding
    copies of the files named lists (none: an empty one)."""
    os.makedirs(path)
    for name, text in (("me", "bench.example.org\n"),
                       ("rcpthosts", "example.org\n")):
        with open(os.path.join(path, name), "w") as f:
            f.write(text)
    if cert:
        shutil.copy(lib.cert("servercert.pem"), path)
    if named is not None:
        os.mkdir(os.path.join(path, "servercerts"))
        for p in named:
            shutil.copy(p, os.path.join(path, "servercerts"))
    return path


def named_certs(d, n):
    """Certificates for the names NAMED % 0 to n - 1, made in d: each
    <name>.pem a key and its chain, as servercert.pem.  One key serves
    them all, servercert.pem's RSA key (a key each would take minutes to
    make, and would not change what a handshake costs); each certificate
    is for its own name (CN and DNS name), signed by the test CA.  Their
    paths, in the order of the names."""
    def openssl(*argv):
        p = sh(("openssl",) + argv)
        if p.returncode != 0:
            raise RuntimeError("openssl %s: %s" % (argv[0],
                                                   p.stderr.strip()))
        return p.stdout

    os.makedirs(d)
    csr, ext = os.path.join(d, "csr"), os.path.join(d, "ext")
    openssl("req", "-new", "-config", os.devnull, "-key",
            lib.cert("server.key"), "-subj", "/CN=bench", "-out", csr)
    with open(lib.cert("server.key")) as f:
        key = f.read()
    with open(lib.cert("ca.pem")) as f:
        ca = f.read()
    out = []
    for i in range(n):
        name = NAMED % i
        with open(ext, "w") as f:
            f.write("basicConstraints = critical, CA:FALSE\n"
                    "keyUsage = critical, digitalSignature, "
                    "keyEncipherment\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectAltName = DNS:%s\n" % name)
        leaf = openssl("x509", "-req", "-sha256", "-days", "30", "-in", csr,
                       "-CA", lib.cert("ca.pem"), "-CAkey",
                       lib.cert("ca.key"), "-set_serial",
                       "0x" + os.urandom(16).hex(), "-subj", "/CN=" + name,
                       "-extfile", ext)
        out.append(os.path.join(d, name + ".pem"))
        with open(out[-1], "w") as f:
            f.write(key + leaf + ca)
    return out


def scale_fronts(work, counts):
    """The scale curve's fronts: starttls-smtpd once for each count in
    counts, with a control directory whose servercerts/ holds that many
    named certificates.  Its STARTTLS sessions ask for the last of those
    names and fail unless they get its certificate; with no names, for a
    name without a file, and fail unless they get servercert.pem's
    (localhost)."""
    smtpd = os.path.join(B, "starttls-smtpd")
    t = time.time()
    named = named_certs(os.path.join(work, "named"), max(counts))
    print("bench: %d named certificates made in %.1f s" % (
        len(named), time.time() - t), file=sys.stderr)
    out = []
    for n in counts:
        sni, want = (NAMED % (n - 1),) * 2 if n else (UNNAMED, "localhost")
        out.append({"name": "starttls-smtpd, %d names in servercerts/" % n,
                    "key": "names%d" % n, "names": n,
                    "modes": ["1.2", "plain"],
                    "control": control(os.path.join(
                        work, "control-names%d" % n), named[:n]),
                    "loadgen": ["-S", sni, "-V", want],
                    "chain": lambda back: [smtpd] + back})
    return out


def counts(text):
    """--scale's argument: the numbers of names, ascending."""
    try:
        v = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("not numbers: %r" % text)
    if v and (v[0] < 0 or v[-1] > NAMED_MAX):
        raise argparse.ArgumentTypeError(
            "from 0 to %d names" % NAMED_MAX)
    return v


def extra_front(tls):
    """--front and --front-notls: NAME=COMMAND, the command split as a
    shell would split it, into (name, argv, tls)."""
    def parse(spec):
        name, sep, cmd = spec.partition("=")
        argv = shlex.split(cmd)
        if not sep or not name or not argv:
            raise argparse.ArgumentTypeError(
                "%r: want NAME=PROGRAM [ARG ...]" % spec)
        # NAME ends at the first "=": a name with one in it would leave
        # a program that fails in every session, minutes into the run
        if shutil.which(argv[0]) is None:
            raise argparse.ArgumentTypeError(
                "%r: no program %s (NAME cannot hold '=')" % (spec, argv[0]))
        return name, argv, tls
    return parse


PARTS = ("front", "back", "loadgen", "kthreads", "rest")
MODES = {"1.2": "STARTTLS, TLS 1.2", "1.3": "STARTTLS, TLS 1.3",
         "plain": "plaintext"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-d", type=float, default=10,
                    help="seconds of sessions in each round")
    ap.add_argument("-D", type=float, default=4,
                    help="seconds of 20 MB messages in each throughput round")
    ap.add_argument("-c", type=int, default=8)
    ap.add_argument("-s", type=int, default=200)
    ap.add_argument("-m", type=int, default=20, help="megabytes")
    ap.add_argument("--measured", type=int, default=100,
                    help="sessions in the CPU/RSS run")
    ap.add_argument("-r", type=int, default=3,
                    help="runs of each measurement; medians are shown")
    ap.add_argument("--front", action="append", default=[], dest="extra",
                    type=extra_front(True), metavar="NAME=PROGRAM [ARG ...]",
                    help="also measure this build or setting of "
                    "starttls-smtpd, e.g. 'before=/tmp/old/build/"
                    "starttls-smtpd' or 'no Received=build/starttls-smtpd "
                    "-Q \"\"' (repeatable; keys extra0, extra1, ...)")
    ap.add_argument("--front-notls", action="append", dest="extra",
                    type=extra_front(False), metavar="NAME=PROGRAM [ARG ...]",
                    help="the same with no servercert.pem in its control "
                    "directory, so no TLS offered: plaintext sessions only")
    ap.add_argument("-f", default=None,
                    help="only these fronts, e.g. plain,ours (a quick "
                    "look; the targets need plain, tlsw and ours)")
    ap.add_argument("--scale", type=counts, default="0,10,100,256",
                    metavar="N,...",
                    help="the scale curve: starttls-smtpd with N named "
                    "certificates in servercerts/, for each N, whatever "
                    "-f says ('' for none)")
    ap.add_argument("--tmp", default=shm(),
                    help="where the run's files go, the queue stand-in's "
                    "messages among them (default: /dev/shm when it is a "
                    "tmpfs, else $TMPDIR or /tmp)")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="starttls-bench.", dir=a.tmp)
    os.chmod(work, 0o755)
    cg = Cgroups()
    try:
        return bench(work, a, cg)
    finally:
        cg.remove()
        shutil.rmtree(work, ignore_errors=True)
        lib.cleanup()


def shm():
    """/dev/shm if it is a writable tmpfs, else None (tempfile's choice).
    The queue stand-in writes every message to a file: on a disk, the
    journal and writeback make the backends' CPU per session wander by
    a millisecond from run to run (2.8 to 4.1 ms for the same programs
    in one run), in memory they agree within a tenth.  A real
    qmail-queue's disk costs every front the same."""
    try:
        with open("/proc/mounts") as f:
            tmpfs = any(l.split()[1:3] == ["/dev/shm", "tmpfs"] for l in f)
    except OSError:
        tmpfs = False
    return "/dev/shm" if tmpfs and os.access("/dev/shm", os.W_OK) else None


def spread(vals, fmt):
    """The median of the rounds, and their smallest and largest."""
    v = sorted(vals)
    if len(v) == 1:
        return fmt % v[0]
    return (fmt + " (" + fmt + "-" + fmt + ")") % (v[len(v) // 2], v[0],
                                                   v[-1])


def bench(work, a, cg):
    lib.make_certs()
    control(os.path.join(work, "control"))
    # the same without a certificate, for --front-notls
    notls = control(os.path.join(work, "control-notls"), cert=False)
    os.makedirs(os.path.join(work, "bin"))
    os.symlink(lib.QUEUE, os.path.join(work, "bin", "qmail-queue"))
    pem = os.path.join(work, "tlswrapper.pem")
    with open(pem, "w") as f:
        for part in ("server.key", "server.pem", "ca.pem"):
            f.write(open(lib.cert(part)).read())

    lim = machine()
    print("machine: %d cores; AES-128-GCM %.2f GB/s, RSA-2048 sign %.0f/s "
          "(openssl speed, one core); fork+exec %.2f ms" %
          (os.cpu_count(), lim.get("aes", 0), lim.get("rsa", 0),
           lim["forkexec"]))
    print("load: %g s of sessions at concurrency %d, %d-byte messages; "
          "throughput: %g s of %d MB messages; TLS 1.2 is %s; each figure "
          "the median of %d rounds (smallest-largest)" % (
              a.d, a.c, a.s, a.D, a.m, CIPHER12, a.r))
    if a.scale:
        print("scale curve: starttls-smtpd with %s names in servercerts/" %
              ", ".join(str(n) for n in a.scale))
    if cg.why is not None:
        print("bench: %s: the server's tree is not split into front and "
              "backends, it falls into rest" % cg.why, file=sys.stderr)
        print("no breakdown of the server's tree: %s" % cg.why)
    print()
    res = {}
    big = a.m * 1000 * 1000
    scale = scale_fronts(work, a.scale) if a.scale else []
    rows = [(fr, mode) for fr in fronts(pem, a.extra, notls)
            for mode in fr["modes"]
            if a.f is None or fr["key"] in a.f.split(",")]
    rows += [(fr, mode) for fr in scale for mode in fr["modes"]]
    runs = {(fr["key"], mode): [] for fr, mode in rows}
    # the fronts take turns, so that a slow spell of the machine does not
    # fall on one of them only; every other round backwards, so that a
    # drift within a round does not favour the first
    for i in range(a.r):
        for fr, mode in (rows if i % 2 == 0 else rows[::-1]):
            r = {}
            run = Run(work, fr, "standin", cg)
            lg = run.go(mode, a.s, a.c, secs=a.d)
            for k, key in (("rate", "rate"), ("p50", "p50_ms"),
                           ("p99", "p99_ms")):
                r[k] = float(lg[key])
            for k in PARTS + ("mcpu", "softirq"):
                if k in lg:
                    r[k] = lg[k]
            run.go(mode, a.s, a.c, n=a.measured, measured=True)
            r["cpu"], r["rss"] = run.cost()
            if mode != "1.3" and (mode != "plain" or fr["key"] == "plain") \
                    and "names" not in fr:
                r["mb_standin"] = float(run.go(mode, big, 1,
                                               secs=a.D)["mbps"])
                r["mb_null"] = float(Run(work, fr, "null", cg).go(
                    mode, big, 1, secs=a.D)["mbps"])
            runs[(fr["key"], mode)].append(r)
            print("bench: round %d/%d: %s, %s done" % (
                i + 1, a.r, fr["name"], MODES[mode]), file=sys.stderr)
    allr = {}
    for fr, mode in rows:
        rs = runs[(fr["key"], mode)]
        res[(fr["key"], mode)] = {k: sorted(x[k] for x in rs)[len(rs) // 2]
                                  for k in rs[0]}
        res[(fr["key"], mode)]["name"] = fr["name"]
        allr[(fr["key"], mode)] = {k: [x[k] for x in rs] for k in rs[0]}
    # the scale curve has a table of its own
    curve = {fr["key"] for fr in scale}
    main = {k: r for k, r in allr.items() if k[0] not in curve}

    for title, want in (("STARTTLS sessions", ("1.2", "1.3")),
                        ("Plaintext sessions (no STARTTLS)", ("plain",))):
        print("%s:\n" % title)
        print("| front | mode | sessions/s | p50 ms | p99 ms | "
              "front peak RSS KiB |")
        print("|---|---|---|---|---|---|")
        for (key, mode), r in main.items():
            if mode in want:
                print("| %s | %s | %s | %s | %s | %s |" % (
                    res[(key, mode)]["name"], MODES[mode],
                    spread(r["rate"], "%.1f"), spread(r["p50"], "%.1f"),
                    spread(r["p99"], "%.1f"), spread(r["rss"], "%d")))
        print()
    print("Whole-machine CPU per session, ms, and its parts (machine = "
          "front + backends + loadgen + kthreads + rest; softirq is "
          "inside them):\n")
    print("| front | mode | machine | front | backends | loadgen | "
          "kthreads | rest | softirq |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (key, mode), r in main.items():
        print("| %s | %s | %s |" % (
            res[(key, mode)]["name"], MODES[mode], " | ".join(
                spread(r[k], "%.2f") if k in r else "-"
                for k in ("mcpu",) + PARTS + ("softirq",))))
    print()
    print("DATA phase, one %d MB message at a time:\n" % a.m)
    print("| front | mode | DATA MB/s, stand-in | DATA MB/s, null |")
    print("|---|---|---|---|")
    for (key, mode), r in main.items():
        if "mb_null" in r:
            print("| %s | %s | %s | %s |" % (
                res[(key, mode)]["name"], MODES[mode],
                spread(r["mb_standin"], "%.1f"), spread(r["mb_null"], "%.0f")))
    print()
    if scale:
        scale_table(scale, allr)
    against_ours(allr, res)
    if a.f is not None:
        return 0
    return targets(res, allr)


def per_round(allr, a, b, key):
    """a's figure over b's, round by round (they ran in the same rounds):
    a shared VM's speed drifts between rounds, a ratio within one does
    not."""
    if key == "parts":
        sums = [[sum(x) for x in zip(*(allr[k][p] for p in
                                      ("front", "back", "loadgen",
                                       "kthreads")))] for k in (a, b)]
        return [x / y for x, y in zip(*sums)]
    return [x / y for x, y in zip(allr[a][key], allr[b][key])]


def against_ours(allr, res):
    """Every other front against starttls-smtpd in the same mode, as
    ratios within each round."""
    rows = [k for k in allr if k[0] != "ours" and ("ours", k[1]) in allr
            and "front" in allr[k] and not k[0].startswith("names")]
    if not rows:
        return
    print("Against starttls-smtpd in the same mode, the ratio within each "
          "round (machine CPU by /proc/stat, and by the sum of the parts "
          "the cgroups and rusage measure):\n")
    print("| front | mode | sessions/s | machine CPU/session | sum of the "
          "parts |")
    print("|---|---|---|---|---|")
    for k in rows:
        o = ("ours", k[1])
        print("| %s | %s | %s | %s | %s |" % (
            res[k]["name"], MODES[k[1]],
            spread(per_round(allr, k, o, "rate"), "%.3f"),
            spread(per_round(allr, k, o, "mcpu"), "%.3f"),
            spread(per_round(allr, k, o, "parts"), "%.3f")))
    print()


def scale_table(scale, allr):
    """The scale curve: a session's cost against the number of names in
    servercerts/, and the most names' cost against the fewest's, as the
    ratio in each round (the variants take turns, so a round's figures
    share the machine's mood)."""
    print("Cost against the number of server names: starttls-smtpd with "
          "N certificates in servercerts/; STARTTLS sessions name the "
          "last (none: a name without a file); CPU ms per session:\n")
    print("| names | mode | sessions/s | machine | front | backends | "
          "loadgen | kthreads | rest | front peak RSS KiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode in ("1.2", "plain"):
        for fr in scale:
            r = allr[(fr["key"], mode)]
            print("| %d | %s | %s | %s | %s |" % (
                fr["names"], MODES[mode], spread(r["rate"], "%.1f"),
                " | ".join(spread(r[k], "%.2f") if k in r else "-"
                           for k in ("mcpu",) + PARTS),
                spread(r["rss"], "%d")))
    print()
    if len(scale) < 2:
        return
    few, most = scale[0], scale[-1]
    print("%d names against %d: the ratio of their figures in each "
          "round:\n" % (most["names"], few["names"]))
    print("| mode | sessions/s ratio | machine CPU/session ratio | front "
          "CPU/session ratio | wanted | met |")
    print("|---|---|---|---|---|---|")
    for mode in ("1.2", "plain"):
        a, b = allr[(few["key"], mode)], allr[(most["key"], mode)]
        rate = [y / x for x, y in zip(a["rate"], b["rate"])]
        cpu = [y / x for x, y in zip(a["mcpu"], b["mcpu"])]
        front = [y / x for x, y in zip(a["front"], b["front"])] \
            if "front" in a else [float("nan")]
        ok = sorted(cpu)[len(cpu) // 2] <= 1.05
        print("| %s | %s | %s | %s | machine CPU <= 1.05 | %s |" % (
            MODES[mode], spread(rate, "%.3f"), spread(cpu, "%.3f"),
            spread(front, "%.3f"), "yes" if ok else "**no**"))
    print()


def targets(res, allr):
    """The targets, as ratios within each round of this one run: the
    whole machine's cost of a session against tlswrapper's and no TLS's
    (issue 22), and the earlier ones still kept."""
    rows = []

    def ratio(a, b, key, want, ok, what):
        if a not in allr or b not in allr or (
                key == "parts" and "front" not in allr[a]):
            return
        v = per_round(allr, a, b, key)
        rows.append((what, spread(v, "%.2fx"), want,
                     ok(sorted(v)[len(v) // 2])))
    ours, plain = ("ours", "1.2"), ("ours", "plain")
    tw, base = ("tlsw", "1.2"), ("plain", "plain")
    ratio(plain, base, "rate", ">= 0.6x", lambda v: v >= 0.6,
          "plaintext sessions/s vs no TLS")
    ratio(plain, base, "mcpu", "(for the record)", lambda v: True,
          "plaintext machine CPU/session vs no TLS")
    ratio(ours, tw, "rate", ">= 1.3x", lambda v: v >= 1.3,
          "STARTTLS sessions/s vs tlswrapper")
    ratio(ours, tw, "mcpu", "<= 1x", lambda v: v <= 1,
          "STARTTLS machine CPU/session vs tlswrapper")
    ratio(ours, tw, "parts", "<= 1x", lambda v: v <= 1,
          "... the same by the sum of its parts (rest left out)")
    ratio(("root", "1.2"), ours, "rate", ">= 0.95x", lambda v: v >= 0.95,
          "started as root vs under tcpserver -u, STARTTLS sessions/s")
    ratio(ours, base, "mb_standin", ">= 0.95x", lambda v: v >= 0.95,
          "DATA MB/s behind stand-in vs no TLS")
    ratio(("ours", "1.3"), ours, "rate", "within 10%",
          lambda v: abs(v - 1) <= 0.10, "TLS 1.3 vs TLS 1.2 sessions/s")
    rss = res[plain]["rss"], res[ours]["rss"]
    rows.append(("front peak RSS, plaintext vs STARTTLS session",
                 "%d vs %d KiB" % rss, "no TLS state: <= 0.6x",
                 rss[0] <= 0.6 * rss[1]))
    print("| target | measured | wanted | met |")
    print("|---|---|---|---|")
    for what, got, want, ok in rows:
        print("| %s | %s | %s | %s |" % (what, got, want, "yes" if ok else
                                         "**no**"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
