"""The run scripts of starttls(7), RUN SCRIPTS: each is taken from the
manual page's text, changed only where this machine is not a mail server
(paths, users, the address it listens on, no DNS), started under its own
supervisor (daemontools' svscan, runit's runsv, s6-svscan,
systemd-socket-activate), and a message goes through it over STARTTLS.
The per-client rules, the memory limit and the listen backlog are checked
on the running service.
"""
import os
import pwd
import re
import signal
import subprocess

from lib import (collector, Client, Server, expect, expect_eq, expect_in,
                 free_port, pids_of, processes, read_log, run, wait_for,
                 RECEIVED, SMTPD, STANDIN, TOP)
from smtpd_helpers import SOFTLIMIT

TESTS, test = collector()

MANUAL = os.path.join(TOP, "man", "starttls.7")

# the rules' three kinds of client; 127.0.0.3 stands for the office
# network 192.0.2.0/24, which this host cannot connect from
LOCALHOST, OFFICE, STRANGER = "127.0.0.1", "127.0.0.3", "127.0.0.2"
# control/concurrencyincoming, which the daemontools script reads
CONCURRENCY = 20


def examples():
    """{name: text} of every block marked '.\\" run script: name' in the
    manual, as a reader copies it from the formatted page."""
    with open(MANUAL) as f:
        blocks = re.findall(r'\.\\" run script: (\S+)\n\.Bd -literal[^\n]*\n'
                            r"(.*?)\.Ed\n", f.read(), re.S)
    out = {}
    for name, body in blocks:
        escapes = set(re.findall(r"\\(.)", body)) - {"e", "&"}
        expect(not escapes, "%s: escapes the test cannot undo: %s" %
               (name, sorted(escapes)))
        out[name] = body.replace("\\&", "").replace("\\e", "\\")
    return out


def adapt(text, changes):
    """text with each (old, new) of changes made; every old must be there,
    so a script that changes under the test is noticed."""
    for old, new in changes:
        expect_in(old, text, "the script")
        text = text.replace(old, new)
    return text


def tree(root):
    """root and every process below it, by PID."""
    kids = {}
    for pid, _, ppid, _ in processes():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def listen_backlog(port):
    """The accept queue's size of the socket listening on 127.0.0.1:port,
    as ss(8) tells it (Send-Q of a listener), or None."""
    p = run(["ss", "-Hltn", "sport = :%d" % port], timeout=10)
    for line in p.stdout.decode().splitlines():
        f = line.split()
        if len(f) >= 4 and f[3].endswith(":%d" % port):
            return int(f[2])
    return None


def listening(port):
    want = ":%04X" % port
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[1].endswith(want) and f[3] == "0A":
            return True
    return False


class Service:
    """One example from the manual, running under its supervisor, with the
    stand-ins for qmail-smtpd and qmail-queue behind it (from lib.Server's
    directories, which this starts no tcpserver for)."""

    def __init__(self, supervisor):
        self.kind = supervisor
        self.srv = Server(control={"concurrencyincoming":
                                   "%d\n" % CONCURRENCY})
        self.dir = self.srv.dir
        self.port = free_port()
        pw = pwd.getpwnam("nobody")
        self.user = pw.pw_name
        self.group = str(pw.pw_gid)
        self.ex = examples()
        os.symlink(STANDIN, os.path.join(self.srv.home, "bin",
                                         "qmail-smtpd"))
        # /usr/local/bin: what make install puts there, and the helper
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.bin)
        os.symlink(SMTPD, os.path.join(self.bin, "starttls-smtpd"))
        os.symlink(RECEIVED, os.path.join(self.bin, "starttls-received"))
        self.install(os.path.join(self.bin, "tcprules-env"),
                     self.ex["systemd/tcprules-env"])
        self.cdb = os.path.join(self.dir, "tcp.smtp.cdb")
        rules = adapt(self.ex["tcp.smtp"], [("192.0.2.:", OFFICE + ":")])
        subprocess.run(["tcprules", self.cdb, self.cdb + ".tmp"],
                       input=rules.encode(), check=True, timeout=10)
        self.logdir = os.path.join(self.dir, "multilog")
        os.makedirs(self.logdir)
        os.chown(self.logdir, pw.pw_uid, pw.pw_gid)
        self.env = dict(self.srv.env, PATH=self.bin +
                        ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        self.proc = None
        self.limit = None

    def install(self, path, text):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)

    def changes(self):
        """Where the files of a server are here."""
        return [("/var/qmail", self.srv.home),
                ("/etc/tcp.smtp.cdb", self.cdb)]

    def service_dir(self, prefix):
        """A run/log/run pair from the manual as a service directory."""
        sv = os.path.join(self.dir, "service", "smtpd")
        os.makedirs(os.path.join(sv, "log"))
        host = " 0 smtp "
        tcp = [(host, " %s %d " % (LOCALHOST, self.port)),
               ("qmaild", self.user),
               # tcpserver asks the DNS for each client's name: not here
               ("-v -R", "-v -H -R")]
        runs = self.ex[prefix + "/run"]
        self.install(os.path.join(sv, "run"),
                     adapt(runs, tcp + self.changes()))
        self.install(os.path.join(sv, "log", "run"),
                     adapt(self.ex[prefix + "/log/run"],
                           [("qmaill", self.user),
                            ("/var/log/qmail/smtpd", self.logdir)]))
        self.limit = re.search(r"softlimit -m (\d+)", runs).group(1)
        conc = re.search(r"-c (\S+)", runs).group(1)
        back = re.search(r'-b ("[^"]*"|\S+)', runs).group(1)
        if conc.startswith('"$'):
            expect_eq(back, '"$((2 * MAXSMTPD))"', "-b")
            self.backlog = 2 * CONCURRENCY
        else:
            expect_eq(int(back), 2 * int(conc), "-b against -c")
            self.backlog = int(back)
        return sv

    def start(self):
        if self.kind == "daemontools":
            sv = self.service_dir("daemontools")
            argv = ["svscan", os.path.dirname(sv)]
        elif self.kind == "runit":
            sv = self.service_dir("daemontools")
            argv = ["runsv", sv]
        elif self.kind == "s6":
            sv = self.service_dir("s6")
            argv = ["s6-svscan", os.path.dirname(sv)]
        else:
            argv = self.systemd()
        self.sv = None if self.kind == "systemd" else sv
        log = open(os.path.join(self.dir, "supervisor.log"), "ab")
        self.proc = subprocess.Popen(argv, env=self.env, cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, start_new_session=True)
        log.close()
        if not wait_for(lambda: listening(self.port), timeout=15):
            self.stop()
            expect(False, "%s: nothing listens: %s %s" % (
                self.kind, self.log(), read_log(os.path.join(
                    self.dir, "supervisor.log"))))
        return self

    def systemd(self):
        """systemd-socket-activate for the two units; what systemd itself
        adds for an Accept=yes service (REMOTE_ADDR, User=, Group=,
        LimitAS=, StandardError=, where the default would send the log to
        the client) a small wrapper does."""
        sock = self.ex["systemd/qmail-smtpd.socket"]
        unit = self.ex["systemd/qmail-smtpd@.service"]
        expect_in("\nAccept=yes\n", sock, "the socket")
        conc = int(re.search(r"\nMaxConnections=(\d+)", sock).group(1))
        back = int(re.search(r"\nBacklog=(\d+)", sock).group(1))
        expect_eq(back, 2 * conc, "Backlog against MaxConnections")
        self.backlog = None     # systemd-socket-activate takes no backlog
        unit = adapt(unit, [("/usr/local/bin", self.bin),
                            ("User=qmaild", "User=" + self.user),
                            ("Group=nofiles", "Group=" + self.group)] +
                     self.changes())
        keys = {}
        for line in re.sub(r"\\\n", " ", unit).splitlines():
            k, eq, v = line.partition("=")
            if eq and not line.startswith("["):
                keys.setdefault(k, []).append(v)
        self.limit = keys["LimitAS"][0]
        expect_eq(keys["StandardInput"], ["socket"], "StandardInput")
        shim = os.path.join(self.dir, "systemd-exec")
        self.install(shim, SYSTEMD_EXEC)
        # systemd gives a service Environment= and little else; here also
        # where the stand-ins and the control files are
        env = []
        for e in keys.get("Environment", []) + [
                "%s=%s" % (k, self.env[k]) for k in self.env
                if k.startswith(("STANDIN_", "STARTTLS_")) or k == "PATH"]:
            env += ["-E", e]
        return (["systemd-socket-activate", "--inetd", "-a",
                 "-l", "%s:%d" % (LOCALHOST, self.port)] + env +
                ["/usr/bin/python3", shim, keys["User"][0],
                 keys["Group"][0], self.limit,
                 keys.get("StandardError", ["inherit"])[0],
                 self.log_path()] + keys["ExecStart"][0].split())

    def log_path(self):
        if self.kind == "systemd":
            return os.path.join(self.dir, "journal")
        return os.path.join(self.logdir, "current")

    def log(self):
        return read_log(self.log_path())

    def stop(self):
        """Down by the supervisor's own way, then whatever is left of
        what it started, by PID."""
        if self.proc is None:
            return
        pids = tree(self.proc.pid)
        if self.kind == "daemontools":
            run(["svc", "-dx", self.sv, self.sv + "/log"], timeout=10)
        elif self.kind == "s6":
            run(["s6-svscanctl", "-t", os.path.dirname(self.sv)], timeout=10)
        if self.kind != "s6":
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        wait_for(lambda: not any(os.path.exists("/proc/%d" % p)
                                 for p in pids[1:]), timeout=10)
        for pid in tree(self.proc.pid) + pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    def relay_limit(self):
        """The address-space limit of this service's starttls-smtpd relays,
        from /proc (soft limit, bytes)."""
        ours = set(tree(self.proc.pid))
        for pid in ours.intersection(pids_of(os.path.realpath(SMTPD))):
            for line in read_log("/proc/%d/limits" % pid).splitlines():
                if line.startswith("Max address space"):
                    return line.split()[3]
        return None


# what systemd does for an Accept=yes service that systemd-socket-activate
# does not: argv is user group limit stderr journal ExecStart...
SYSTEMD_EXEC = r'''import os, pwd, resource, socket, sys
user, group, limit, stderr, journal = sys.argv[1:6]
s = socket.socket(fileno=os.dup(0))
addr, port = s.getpeername()[:2]
s.close()
os.environ["REMOTE_ADDR"], os.environ["REMOTE_PORT"] = addr, str(port)
if stderr == "journal":
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 2)
elif stderr == "inherit":
    os.dup2(1, 2)
resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
uid = pwd.getpwnam(user).pw_uid
os.setgroups([])
os.setgid(int(group))
os.setuid(uid)
os.execvp(sys.argv[6], sys.argv[6:])
'''


def exercise(svc):
    """The three kinds of client of the rules, a message from each through
    the running service, and what the service runs with."""
    if svc.backlog is not None:
        expect_eq(listen_backlog(svc.port), svc.backlog, "listen backlog")
    expect_eq(svc.limit, SOFTLIMIT, "the memory limit (smtpd_helpers')")

    # anyone: STARTTLS offered, not required; no relaying
    c = Client(svc.port, source=STRANGER)
    expect(c.reply().startswith(b"220 "), "greeting")
    expect_in(b"250-STARTTLS", c.cmd(b"EHLO client.example"), "EHLO")
    expect(c.cmd(b"STARTTLS").startswith(b"220"), "STARTTLS")
    c.starttls()
    expect_in(b"250", c.cmd(b"EHLO client.example"), "EHLO in TLS")
    expect_eq(svc.relay_limit(), svc.limit, "the relay's address space")
    r, done = c.mail(rcpt=b"far@foreign.net")
    expect(r.startswith(b"553"), "a stranger relays: %r" % r)
    c.cmd(b"RSET")
    r, done = c.mail(body=b"Subject: from a stranger\r\n\r\nhello\r\n")
    expect(done.startswith(b"250"), "message: %r" % done)
    c.cmd(b"QUIT")
    c.close()

    # the office: relays, over TLS only
    c = Client(svc.port, source=OFFICE)
    c.reply()
    c.cmd(b"EHLO office.example")
    expect(c.cmd(b"MAIL FROM:<a@office.example>").startswith(b"530"),
           "MAIL before STARTTLS from the office")
    c.cmd(b"STARTTLS")
    c.starttls()
    c.cmd(b"EHLO office.example")
    r, done = c.mail(rcpt=b"far@foreign.net",
                     body=b"Subject: from the office\r\n\r\nhello\r\n")
    expect(r.startswith(b"250") and done.startswith(b"250"),
           "office relay over TLS: %r %r" % (r, done))
    c.cmd(b"QUIT")
    c.close()

    # the local host: a pure relay, relaying
    c = Client(svc.port, source=LOCALHOST)
    c.reply()
    ehlo = c.cmd(b"EHLO localhost")
    expect(b"STARTTLS" not in ehlo, "STARTTLS offered to the local host")
    r, done = c.mail(rcpt=b"far@foreign.net",
                     body=b"Subject: from here\r\n\r\nhello\r\n")
    expect(done is not None and done.startswith(b"250"),
           "local relay: %r %r" % (r, done))
    c.cmd(b"QUIT")
    c.close()

    expect(wait_for(lambda: len(svc.srv.messages()) == 3, timeout=10),
           "messages: %d" % len(svc.srv.messages()))
    got = {m[2].split(b"Subject: ")[1].split(b"\r")[0].split(b"\n")[0]:
           m for m in svc.srv.messages()}
    expect_in(b"with ESMTPS", got[b"from a stranger"][2], "Received")
    expect_in(b"with ESMTPS", got[b"from the office"][2], "Received")
    expect_eq(got[b"from the office"][1], ["far@foreign.net"], "recipient")
    expect_in(b"with SMTP;", got[b"from here"][2], "Received")
    expect(wait_for(lambda: re.search(r"starttls-smtpd: pid \d+: tls TLSv1",
                                      svc.log()), timeout=10),
           "the log: %r" % svc.log()[-600:])


def supervised(kind):
    if os.geteuid() != 0:
        return "skip"       # the scripts change user, as on a mail server
    with Service(kind) as svc:
        exercise(svc)


@test
def runscripts_daemontools():
    """run and log/run under svscan/supervise, logging with multilog."""
    return supervised("daemontools")


@test
def runscripts_runit():
    """The same two files under runit's runsv."""
    return supervised("runit")


@test
def runscripts_s6():
    """run and log/run under s6-svscan, logging with s6-log."""
    return supervised("s6")


@test
def runscripts_systemd_socket():
    """The socket and service units, run by systemd-socket-activate
    --inetd as systemd would run them, with tcprules-env for the rules."""
    return supervised("systemd")

