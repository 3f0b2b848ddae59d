"""A throwaway Postfix for the interoperability tests (tests/e2e/t_interop.py).

Each Postfix here is a whole instance of its own under lib.WORK: its own
config_directory (main.cf, master.cf), queue_directory, data_directory,
mailboxes and log file.  Its master runs in the foreground as our child
(no "postfix start", no daemonizing), listens only on 127.0.0.1 at a
free high port, runs nothing chrooted, and is stopped by its PID (and
its daemons by theirs).  Nothing here reads or writes /etc/postfix or
the system queue, or uses port 25: nothing is ever delivered to a host
Postfix would look up itself.

As a server, it accepts mail for example.org and delivers it into one
mbox file (virtual(8)), so a test can read the Received header Postfix
wrote; everything else is refused (default_transport = error).  As a
client, it is given a relayhost and its port is a plaintext listener
that a test hands a message to (send()).

Needs root (master runs as root and drops to the postfix user) and the
Debian package postfix; available() says whether both are there.
"""
import os
import pwd
import grp
import shutil
import socket
import signal
import smtplib
import subprocess
import time

from lib import (CERTS, WORK, Fail, cert, free_port, processes,
                 read_log, wait_for)

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"


def available():
    """None when a Postfix can be run here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if not os.path.exists(POSTCONF) or not os.path.exists(POSTFIX):
        return "postfix not installed"
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        return "no postfix user or postdrop group"
    if not os.path.exists(_master()):
        return "no postfix master"
    return None


_daemon_dir = []


def _master():
    if not _daemon_dir:
        p = subprocess.run([POSTCONF, "-d", "-h", "daemon_directory"],
                           capture_output=True, text=True, timeout=10)
        _daemon_dir.append(p.stdout.strip() or "/usr/lib/postfix/sbin")
    return os.path.join(_daemon_dir[0], "master")


# ------------------------------------------------------------ certificates

_ecdsa = []


def ecdsa_cert():
    """(key, certificate) of a P-256 server certificate for "localhost"
    and 127.0.0.1, signed by the test CA (made once, into lib.WORK)."""
    if _ecdsa:
        return _ecdsa[0]
    d = os.path.join(WORK, "pfx-certs")
    os.makedirs(d, exist_ok=True)
    cnf = os.path.join(d, "openssl.cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
                "CN = localhost\n[server_ec]\n"
                "basicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
                "subjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid\n")
    key, csr, pem = (os.path.join(d, "ecdsa-server." + e)
                     for e in ("key", "csr", "pem"))
    env = dict(os.environ)
    env.pop("OPENSSL_CONF", None)
    for argv in (
            ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", key],
            ["openssl", "req", "-config", cnf, "-new", "-key", key,
             "-subj", "/CN=localhost", "-out", csr],
            ["openssl", "x509", "-req", "-sha256", "-days", "3650",
             "-in", csr, "-CA", cert("ca.pem"), "-CAkey",
             os.path.join(CERTS, "ca.key"), "-set_serial",
             "0x%s" % os.urandom(16).hex(), "-extfile", cnf,
             "-extensions", "server_ec", "-out", pem]):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                           env=env)
        if p.returncode != 0:
            raise Fail("%s: %s" % (" ".join(argv), p.stderr))
    _ecdsa.append((key, pem))
    return _ecdsa[0]


# ------------------------------------------------------------------ Postfix

# master.cf: what a server and a client need, nothing chrooted
_SERVICES = """\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# queue_directory subdirectories as post-install makes them (postfix-files)
_QUEUE = [("active", 0o700), ("bounce", 0o700), ("corrupt", 0o700),
          ("defer", 0o700), ("deferred", 0o700), ("flush", 0o700),
          ("hold", 0o700), ("incoming", 0o700), ("private", 0o700),
          ("saved", 0o700), ("trace", 0o700), ("maildrop", 0o730),
          ("public", 0o710)]

_serial = [0]


class Postfix:
    """One Postfix instance, listening on host:self.port (port: a free one
    unless given; 25 on 127.0.0.x makes it an MX host).  main:
    main.cf parameters added to or replacing the defaults below.

    Without relayhost, a server: STARTTLS offered on self.port, mail for
    example.org delivered into one mbox (mailbox()), nothing else.
    With relayhost (e.g. "[127.0.0.1]:2525"), a client: self.port is a
    plaintext listener that send() hands messages to, and everything is
    relayed to relayhost (its TLS as main's smtp_tls_* say); a failed
    delivery stays queued (soft_bounce), it never bounces."""

    def __init__(self, main=None, relayhost=None, host="127.0.0.1",
                 port=None):
        _serial[0] += 1
        self.dir = os.path.join(WORK, "postfix%03d" % _serial[0])
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.mail = os.path.join(self.dir, "mail")
        self.logpath = os.path.join(self.dir, "maillog")
        self.main = main or {}
        self.relayhost = relayhost
        self.host = host
        self.want_port = port
        self.port = None
        self.proc = None

    # -- set-up
    def _write_config(self):
        nobody = pwd.getpwnam("nobody")
        params = {
            "compatibility_level": "3.6",
            "config_directory": self.etc,
            "queue_directory": self.spool,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "maillog_file": self.logpath,
            "maillog_file_prefixes": self.dir,
            # an interface's own address, or Postfix refuses to start;
            # master.cf binds self.host, which may be any of 127.0.0.0/8
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "postfix.test",
            "mydomain": "postfix.test",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "local_transport": "error:no local delivery",
            "default_transport": "error:no outbound delivery here",
            "virtual_mailbox_domains": "example.org",
            "virtual_mailbox_maps": "static:mbox",
            "virtual_mailbox_base": self.mail,
            "virtual_uid_maps": "static:%d" % nobody.pw_uid,
            "virtual_gid_maps": "static:%d" % nobody.pw_gid,
            "virtual_minimum_uid": "1",
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "smtpd_tls_received_header": "yes",
            "smtpd_tls_loglevel": "1",
            "smtp_tls_loglevel": "1",
            "smtpd_tls_chain_files": "%s, %s" % (cert("server.key"),
                                                 cert("server.pem")),
            "smtpd_tls_security_level": "may",
            "smtp_tls_CAfile": cert("ca.pem"),
            "smtp_tls_security_level": "may",
            "biff": "no",
            "smtputf8_enable": "no",
        }
        if self.relayhost:
            params.update({
                "relayhost": self.relayhost,
                "default_transport": "smtp",
                "virtual_mailbox_domains": "",
                "smtpd_tls_security_level": "none",
                # never a bounce, only deferral.  (Not in a server: there
                # it would turn every 5xx it answers into a 4xx.)
                "soft_bounce": "yes"})
        params.update(self.main)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            for k, v in params.items():
                if v is not None:
                    f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("%s:%d inet n - n - - smtpd\n" % (self.host, self.port))
            f.write(_SERVICES)
        # Postfix waits (up to 2 s) for a main.cf changed within the last
        # second to settle: these are written whole, so date them back
        past = time.time() - 60
        for name in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.etc, name), (past, past))

    def _make_dirs(self):
        pf = pwd.getpwnam("postfix")
        pd = grp.getgrnam("postdrop")
        for d in (self.etc, self.spool, self.data, self.mail):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        os.chmod(self.dir, 0o755)
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        os.chmod(self.data, 0o700)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        os.makedirs(os.path.join(self.spool, "pid"), exist_ok=True)
        for name, mode in _QUEUE:
            p = os.path.join(self.spool, name)
            os.makedirs(p, exist_ok=True)
            os.chown(p, pf.pw_uid, pd.gr_gid if mode != 0o700 else pf.pw_gid)
            os.chmod(p, mode)

    def _listening(self, port):
        want = ":%04X " % port
        # /proc/net/tcp's address: the four bytes in host order, in hex
        addr = socket.inet_aton(self.host)[::-1].hex().upper()
        try:
            with open("/proc/net/tcp") as f:
                for line in f.readlines()[1:]:
                    w = line.split()
                    if w[1].startswith(addr) and \
                            (w[1] + " ").endswith(want) and w[3] == "0A":
                        return True
        except OSError:
            pass
        return False

    def start(self):
        self._make_dirs()
        for attempt in range(5):
            self.port = self.want_port or free_port()
            self._write_config()
            chk = subprocess.run([POSTCONF, "-c", self.etc, "-n"],
                                 capture_output=True, text=True, timeout=10)
            if chk.returncode != 0 or "warning" in chk.stderr:
                raise Fail("postconf: %s" % chk.stderr)
            self.proc = subprocess.Popen(
                [_master(), "-c", self.etc], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_for(lambda: self.proc.poll() is not None or
                        self._listening(self.port), 10) and \
                    self.proc.poll() is None:
                return self
            self._kill()
        raise Fail("postfix did not start: " + self.log()[-2000:])

    # -- tear-down, by PID only
    def _group(self):
        """The live processes in the master's process group (it made the
        group with setsid(), so they are its daemons)."""
        return [pid for pid, state, _, group in processes()
                if group == self.proc.pid and state != "Z"]

    def _kill(self):
        if self.proc is None:
            return
        group = self._group()
        if self.proc.poll() is None:
            self.proc.terminate()       # master then ends its daemons
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # any daemon still there (it was in the group when the master ran)
        if not wait_for(lambda: not set(group) & set(self._group()), 5):
            for pid in set(group) & set(self._group()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def stop(self):
        self._kill()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # -- what happened
    def log(self):
        return read_log(self.logpath)

    def wait_log(self, text, timeout=15):
        return wait_for(lambda: text in self.log(), timeout, 0.05)

    def mailbox(self):
        """The messages delivered, as bytes each, oldest first."""
        try:
            with open(os.path.join(self.mail, "mbox"), "rb") as f:
                box = f.read()
        except FileNotFoundError:
            return []
        out = []
        for part in (b"\n" + box).split(b"\nFrom ")[1:]:
            out.append(part.split(b"\n", 1)[1])
        return out

    def wait_mailbox(self, n=1, timeout=15):
        return wait_for(lambda: len(self.mailbox()) >= n, timeout, 0.05)

    def send(self, sender, rcpts, msg, timeout=15):
        """Hand a client a message to relay (plaintext SMTP)."""
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=timeout,
                         local_hostname="inject.test")
        try:
            s.sendmail(sender, rcpts, msg)
        finally:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                s.close()

    def queue_empty(self):
        for q in ("incoming", "active", "deferred", "maildrop"):
            for _, _, files in os.walk(os.path.join(self.spool, q)):
                if files:
                    return False
        return True
