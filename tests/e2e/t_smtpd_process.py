"""starttls-smtpd's processes: privileges dropped after the key is read,
the relay under its seccomp filter from the start, the key gone from its
memory, what qmail-smtpd inherits (SIGPIPE's default, fds 0 to 2 only),
and the programs run from copies that nobody can reach.
"""
import filecmp
import os

from lib import (collector, Client, Server, cert, expect, expect_eq, expect_in,
                 memory_holds, pem_line, pids_of, run, wait_for, SMTPD,
                 STANDIN)
from smtpd_helpers import EHLO_TLS, tls_session

TESTS, test = collector()


@test
def child_gets_default_sigpipe():
    """We ignore SIGPIPE; qmail-smtpd must not inherit that."""
    script = ('grep SigIgn /proc/self/status > "$STANDIN_RECORD/sig"; '
              'exec "$0"')
    with Server(("SMTPD", "sh", "-c", script, STANDIN)) as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"QUIT")
        c.close()
        srv.idle()
        mask = int(open(os.path.join(srv.rec, "sig")).read().split()[1], 16)
        expect(not mask & (1 << 12), "SIGPIPE ignored in the child: %x" %
               mask)


@test
def root_drops_privileges_after_reading_the_key():
    """Started as root (tcpserver without -u): the key, readable by root
    only, is loaded, then the relay and qmail-smtpd run as $UID/$GID."""
    if os.geteuid() != 0:
        return "skip"
    import pwd
    nobody = pwd.getpwnam("nobody")
    script = ('awk \'/^Uid/{print $2}\' /proc/$PPID/status '
              '> "$STANDIN_RECORD/uid.$$"; id -u >> "$STANDIN_RECORD/uid.$$"; '
              'exec "$0"')
    srv = Server(("SMTPD", "-U", "sh", "-c", script, STANDIN),
                 env={"UID": str(nobody.pw_uid), "GID": str(nobody.pw_gid)})
    srv.tcpopts = []                    # tcpserver runs us as root
    os.chmod(os.path.join(srv.control, "servercert.pem"), 0o600)
    with srv:
        r = tls_session(srv, "client", rcpt=b"x@foreign.net")
        expect(r.startswith(b"250"), "relay by certificate: %r" % r)
        srv.idle()
        uids = [open(os.path.join(srv.rec, f)).read().split()
                for f in os.listdir(srv.rec) if f.startswith("uid.")]
        expect_eq(len(uids), 2, "servers started")
        for relay, child in uids:
            expect_eq((relay, child), (str(nobody.pw_uid),) * 2,
                      "uids of starttls-smtpd and qmail-smtpd")
    # root with no user to become: refused
    srv = Server()
    srv.tcpopts = []
    with srv:
        c = Client(srv.port)
        expect_eq(c.rest(3), b"", "no greeting from a refusing front")
        c.close()
        srv.idle()
        expect_in("fatal: refusing to run as root", srv.ourlog(), "log")
        expect_in(" status 25600", srv.log(), "exit 100")


@test
def relay_is_narrowed_from_the_start():
    """The relay runs under its seccomp filter before it reads a byte from
    the client, in the plaintext phase, through the handshake and after;
    with TLS turned off too.  Neither qmail-smtpd inherits the filter: the
    plaintext one starts before it, the TLS one from the standby."""
    if not os.path.exists("/proc/self/status") or "Seccomp:" not in \
            open("/proc/self/status").read() or b"sandbox: seccomp" not in \
            run([SMTPD, "-V"]).stdout:
        return "skip"           # not Linux, or built with SECCOMP=0
    script = ('p=plain; [ -n "$SSL_PROTOCOL" ] && p=tls; sleep 0.3; '
              'grep ^Seccomp: /proc/$PPID/status > "$STANDIN_RECORD/relay-$p"; '
              'grep ^Seccomp: /proc/self/status > "$STANDIN_RECORD/child-$p"; '
              'exec "$0"')

    def mode(srv, name):
        return open(os.path.join(srv.rec, name)).read().split()[1]

    with Server(("SMTPD", "sh", "-c", script, STANDIN)) as srv:
        r = tls_session(srv, "client", rcpt=b"x@foreign.net")
        expect(r.startswith(b"250"), "session under the filter: %r" % r)
        srv.idle()
        for phase in ("plain", "tls"):
            expect_eq(mode(srv, "relay-" + phase), "2",
                      "relay's seccomp mode in the %s phase (2: filter)"
                      % phase)
            expect_eq(mode(srv, "child-" + phase), "0",
                      "%s qmail-smtpd's seccomp mode" % phase)
    with Server(("SMTPD", "sh", "-c", script, STANDIN),
                env={"UCSPITLS": "-"}) as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 standin.example.org ESMTP\r\n", "greeting")
        expect_eq(c.cmd(b"QUIT"), b"221 standin.example.org\r\n", "QUIT")
        c.close()
        srv.idle()
        expect_eq(mode(srv, "relay-plain"), "2", "relay without TLS")
        expect_eq(mode(srv, "child-plain"), "0", "qmail-smtpd without TLS")


@test
def server_key_wiped_once_loaded():
    """Mid-session, no PEM copy of servercert.pem's key is left in the
    relay's memory, while the certificate's still is (which shows the
    scan would find the key if it were there)."""
    pem = cert("servercert.pem")
    key, crt = pem_line(pem, "PRIVATE KEY"), pem_line(pem, "CERTIFICATE")
    with Server() as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        c.cmd(b"STARTTLS")
        c.starttls()
        expect_eq(c.cmd(b"EHLO x"), EHLO_TLS, "TLS EHLO")
        relays = pids_of(SMTPD)
        seen = [(memory_holds(p, crt), memory_holds(p, key)) for p in relays]
        c.cmd(b"QUIT")
        c.close()
    if not relays or seen[0][0] is None:
        return "skip"           # under valgrind, or memory not readable
    expect_eq(seen, [(True, False)] * len(relays),
              "(certificate, key) found in the relay's memory")


@test
def servers_behind_inherit_no_descriptor_of_ours():
    """Both qmail-smtpds start with fds 0, 1 and 2 only: not the standby's
    control socket, a pidfd, or the trust files opened before the filter
    (clientca.pem, clientcrl.pem, tlsclients), with or without STARTTLS,
    in implicit TLS too."""
    import lib

    def ours(pid):              # not valgrind's own log files
        return [f for f in srv.sfds(pid) if not lib.VALGRIND or
                lib.VALGRIND not in f]

    crl = {"clientcrl.pem": open(cert("emptycrl.pem")).read()}
    with Server(control=crl) as srv:
        r = tls_session(srv, "client", rcpt=b"x@foreign.net")
        expect(r.startswith(b"250"), "relayed: %r" % r)
        c = Client(srv.port)
        c.reply()
        expect_eq(c.cmd(b"QUIT"), b"221 standin.example.org\r\n", "QUIT")
        c.close()
        srv.idle()
        pids = srv.sessions()
        expect_eq(len(pids), 3, "servers started")
        for pid in pids:
            expect_eq(ours(pid), [], "extra descriptors of %d" % pid)
    with Server(control=crl, env={"SMTPS": "1"}) as srv:
        c = Client(srv.port)
        c.starttls("client")
        expect_eq(c.reply(), b"220 standin.example.org ESMTP\r\n", "greeting")
        c.close()
        srv.idle()
        for pid in srv.sessions():
            expect_eq(ours(pid), [], "extra descriptors (SMTPS)")


@test
def servers_run_programs_nobody_can_reach():
    """As root the servers run as nobody, who cannot reach a clone in
    root's home or in a mktemp -d directory (mode 700): what they run is
    copied out of the clone, a session runs those copies, and nobody can
    execute each of them."""
    import lib
    staged = (lib.SMTPD, lib.STANDIN, lib.QUEUE, lib.RECEIVED, lib.MEASURE,
              lib.ODD)
    for path in staged:
        expect_eq(os.path.dirname(path), lib.STAGED, "where it runs from")
        expect(not path.startswith(lib.TOP + os.sep) and
               not path.startswith(lib.BUILD + os.sep), path)
        # copies of $STARTTLS_BUILD's programs, where that is set
        if path != lib.ODD:
            expect(filecmp.cmp(path, os.path.join(
                lib.BUILD, os.path.basename(path)), shallow=False),
                "%s is not a copy of the build's" % path)
    with Server() as srv:
        c = Client(srv.port)
        expect_eq(c.reply(), b"220 standin.example.org ESMTP\r\n",
                  "greeting")
        if not lib.VALGRIND:
            expect(wait_for(lambda: pids_of(SMTPD) and pids_of(STANDIN), 5),
                   "no session runs %s and %s" % (SMTPD, STANDIN))
        c.close()
    if not lib.AS_USER:
        return
    uid, gid = lib.AS_USER[1], lib.AS_USER[3]
    for path in staged:
        p = run(["setpriv", "--reuid=" + uid, "--regid=" + gid,
                 "--clear-groups", "test", "-x", path])
        expect_eq(p.returncode, 0, "can nobody execute %s" % path)
