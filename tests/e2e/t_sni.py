"""A certificate per server name (SNI): control/servercerts/<name>.pem,
servercert.pem for every other client.  Real clients: openssl s_client
with and without -servername, and Python's ssl.
"""
import os

from lib import (collector, Client, Server, cert, expect, expect_eq,
                 expect_in, expect_not_in, run)

TESTS, test = collector()


def mx_pem():
    """The ACME-style certificate for mail.example.net, as one file."""
    return open(cert("mx.key")).read() + open(cert("mx-fullchain.pem")).read()


def sni_server(named):
    """A server whose servercerts/ holds named {file name: text}."""
    srv = Server()
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
