"""A certificate per server name (SNI): control/servercerts/<name>.pem,
servercert.pem for every other client.  Real clients: openssl s_client
with and without -servername, and Python's ssl.
"""
import os

import lib
from lib import (collector, Client, Server, cert, expect, expect_eq,
                 expect_in, expect_not_in, pids_of, proc_status, run,
                 wait_for, SMTPD, STANDIN)

TESTS, test = collector()


def mx_pem():
    """The ACME-style certificate for mail.example.net, as one file."""
    return open(cert("mx.key")).read() + open(cert("mx-fullchain.pem")).read()


def sni_server(named, *args, **kw):
    """A server (Server's arguments) whose servercerts/ holds named {file
    name: text}."""
    srv = Server(*args, **kw)
    os.makedirs(os.path.join(srv.control, "servercerts"))
    for name, text in named.items():
        with open(os.path.join(srv.control, "servercerts", name), "w") as f:
            f.write(text)
    return srv


def presented(srv, servername):
    """The subject of the certificate the server presents to openssl
    s_client asking for servername (None: no SNI at all)."""
    argv = ["openssl", "s_client", "-starttls", "smtp", "-connect",
            "127.0.0.1:%d" % srv.port, "-CAfile", cert("ca.pem")]
    argv += ["-noservername"] if servername is None else \
        ["-servername", servername]
    p = run(argv, input=b"QUIT\r\n", timeout=20)
    out = p.stdout.decode(errors="replace")
    for line in out.splitlines():
        if line.startswith("subject="):
            return line[len("subject="):].replace(" ", "")
    return "none: " + out[-500:]


@test
def sni_selects_certificate_by_name():
    """mail.example.net (in any case) gets its own certificate and chain;
    no name, an unknown name or a name that would be a path elsewhere in
    the control directory gets servercert.pem."""
    with open(cert("wrongname-servercert.pem")) as f:
        elsewhere = f.read()
    srv = sni_server({"mail.example.net.pem": mx_pem()})
    with open(os.path.join(srv.control, "wrongname.pem"), "w") as f:
        f.write(elsewhere)
    with srv:
        expect_eq(presented(srv, "mail.example.net"), "CN=mail.example.net",
                  "named")
        expect_eq(presented(srv, "MAIL.Example.NET"), "CN=mail.example.net",
                  "named, other case")
        expect_eq(presented(srv, None), "CN=localhost", "no SNI")
        expect_eq(presented(srv, "other.example.net"), "CN=localhost",
                  "unknown name")
        # OpenSSL lets such a name through to us (servercert.pem is the
        # answer); LibreSSL refuses the handshake itself.  Never the file
        # the path would name.
        for path in ("../wrongname", "servercerts/../../wrongname"):
            got = presented(srv, path)
            expect(got == "CN=localhost" or got.startswith("none: "),
                   "a path as a name: %s" % got[:200])
        srv.idle()
        log = srv.ourlog()
    expect_in("sni=mail.example.net cert=servercerts/mail.example.net.pem",
              log, "log")
    expect_in("sni=- cert=servercert.pem", log, "log without SNI")
    expect_in("sni=other.example.net cert=servercert.pem", log, "log")


@test
def sni_name_and_chain_reach_a_verifying_client():
    """Python's ssl, verifying the name against the test CA, accepts the
    named certificate (so the intermediate went out with it), and qmail-
    smtpd's environment has SSL_TLS_SNI_SERVERNAME."""
    with sni_server({"mail.example.net.pem": mx_pem()}) as srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO client.example")
        expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "STARTTLS")
        c.starttls(sni="mail.example.net")
        expect(c.cmd(b"EHLO client.example").startswith(b"250"), "EHLO")
        c.cmd(b"QUIT")
        c.close()
        srv.idle()
        env = srv.senv(srv.sessions()[-1])
    expect_eq(env.get("SSL_TLS_SNI_SERVERNAME"), "mail.example.net", "env")


@test
def sni_broken_named_certificate_falls_back_and_others_are_not_parsed():
    """A named certificate whose key belongs to another certificate: the
    client asking for that name gets servercert.pem and the log says why;
    a client asking for another name never makes it be parsed."""
    broken = open(cert("server.key")).read() + \
        open(cert("mx-fullchain.pem")).read()
    with sni_server({"broken.example.net.pem": broken,
                     "mail.example.net.pem": mx_pem(),
                     "not-a-cert.example.net.pem": "nothing here\n",
                     "README": "not a certificate file\n"}) as srv:
        expect_eq(presented(srv, "mail.example.net"), "CN=mail.example.net",
                  "named")
        srv.idle()
        expect_not_in("broken.example.net", srv.ourlog(), "not parsed")
        expect_eq(presented(srv, "broken.example.net"), "CN=localhost",
                  "fallback")
        expect_eq(presented(srv, "not-a-cert.example.net"), "CN=localhost",
                  "not a key pair")
        srv.idle()
        log = srv.ourlog()
    expect_in("unable to use servercerts/broken.example.net.pem: its "
              "private key does not belong to its first certificate; "
              "servercert.pem instead", log, "log")
    expect_in("unable to use servercerts/not-a-cert.example.net.pem: ", log,
              "log of a file that is not a key pair")


@test
def sni_unreadable_named_certificate_is_logged():
    """A servercerts/ file the session cannot read: the client gets
    servercert.pem and the log says why; a name with no file at all is no
    news."""
    srv = sni_server({"mail.example.net.pem": mx_pem()})
    os.chmod(os.path.join(srv.control, "servercerts", "mail.example.net.pem"),
             0)
    with srv:
        expect_eq(presented(srv, "mail.example.net"), "CN=localhost",
                  "unreadable: servercert.pem")
        expect_eq(presented(srv, "other.example.net"), "CN=localhost",
                  "no file: servercert.pem")
        srv.idle()
        log = srv.ourlog()
    expect_in("unable to use servercerts/mail.example.net.pem: Permission "
              "denied; servercert.pem instead", log, "log")
    expect_not_in("servercerts/other.example.net", log, "no news")


@test
def sni_256_names_read_only_the_one_asked_for():
    """With servercerts/ full (256 names), the name asked for still gets
    its own certificate, and no other file is opened: the other 255 are
    FIFOs without a writer, on which an open(2) would hang the session."""
    srv = sni_server({"mail.example.net.pem": mx_pem()})
    for i in range(255):
        os.mkfifo(os.path.join(srv.control, "servercerts",
                               "host%d.example.net.pem" % i))
    with srv:
        expect_eq(presented(srv, "mail.example.net"), "CN=mail.example.net",
                  "named, among 256")
        expect_eq(presented(srv, None), "CN=localhost", "no SNI")
        expect_eq(presented(srv, "other.example.net"), "CN=localhost",
                  "unknown name")
        srv.idle()
        log = srv.ourlog()
    expect_in("sni=mail.example.net cert=servercerts/mail.example.net.pem",
              log, "log")


@test
def sni_root_started_standby_keeps_only_the_right_to_read():
    """Started as root, with servercerts/ readable by root only: the
    standby, which reads the named file for the relay, is never root
    while the session runs (on Linux: the user, with CAP_DAC_READ_SEARCH
    alone), the named certificate is still served, and qmail-smtpd keeps
    no capability at all."""
    if os.geteuid() != 0 or not os.path.exists("/proc/self/status") or \
            lib.VALGRIND:
        return "skip"
    import pwd
    nobody = pwd.getpwnam("nobody")
    script = ('grep ^Cap /proc/self/status > "$STANDIN_RECORD/caps.$$"; '
              'exec "$0"')
    srv = sni_server({"mail.example.net.pem": mx_pem()},
                     ("SMTPD", "-U", "sh", "-c", script, STANDIN),
                     env={"UID": str(nobody.pw_uid),
                          "GID": str(nobody.pw_gid)})
    srv.tcpopts = []                    # tcpserver runs us as root
    for f in ("servercert.pem", "servercerts/mail.example.net.pem"):
        os.chmod(os.path.join(srv.control, f), 0o600)
    with srv:
        c = Client(srv.port)
        c.reply()
        c.cmd(b"EHLO x")
        expect(wait_for(lambda: len(pids_of(SMTPD)) == 2, 5),
               "relay and standby: %r" % pids_of(SMTPD))
        pids = pids_of(SMTPD)
        standby = [p for p in pids
                   if int(proc_status(p)["PPid"]) in pids]
        expect_eq(len(standby), 1, "one standby among %r" % pids)
        st = proc_status(standby[0])
        expect_eq(st["Uid"].split(), [str(nobody.pw_uid)] * 4,
                  "the standby's uids")
        expect_eq(int(st["CapEff"], 16), 1 << 2,
                  "effective: CAP_DAC_READ_SEARCH only")
        expect_eq(int(st["CapPrm"], 16), 1 << 2,
                  "permitted: CAP_DAC_READ_SEARCH only")
        c.cmd(b"QUIT")
        c.close()
        expect_eq(presented(srv, "mail.example.net"), "CN=mail.example.net",
                  "named, from a file only root can read")
        srv.idle()
        for f in os.listdir(srv.rec):
            if f.startswith("caps."):
                caps = open(os.path.join(srv.rec, f)).read().split()
                expect_eq([int(v, 16) for v in caps[1::2][:3]], [0, 0, 0],
                          "qmail-smtpd's inheritable, permitted, effective "
                          "capabilities: %r" % caps)
