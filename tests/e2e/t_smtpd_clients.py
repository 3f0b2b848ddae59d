"""Real SMTP clients against starttls-smtpd: swaks, openssl s_client
(TLS 1.2 and 1.3), curl and Python's smtplib, with a client certificate
and without.  (Postfix and the GnuTLS clients are in t_interop.py.)
"""
import os
import smtplib
import ssl

from lib import collector, Server, cert, expect, expect_eq, expect_in, run
from smtpd_helpers import last_session_env

TESTS, test = collector()


@test
def swaks_client_certificate_relays():
    with Server() as srv:
        p = run(["swaks", "-s", "127.0.0.1", "-p", str(srv.port), "--tls",
                 "--tls-cert", cert("client.pem"), "--tls-key",
                 cert("client.key"), "-f", "a@client.example",
                 "-t", "someone@foreign.net", "--helo", "client.example"])
        expect_eq(p.returncode, 0, "swaks exit: " + p.stdout.decode()[-800:])
        msgs = srv.messages()
        expect_eq(len(msgs), 1, "messages")
        expect_eq(msgs[0][1], ["someone@foreign.net"], "recipients")
        expect_in(b"(good@example.com@127.0.0.1)", msgs[0][2],
                  "Received line names the certificate")
        env = last_session_env(srv)
        expect_eq(env.get("RELAYCLIENT"), "", "RELAYCLIENT")
        expect_eq(env.get("TCPREMOTEINFO"), "good@example.com", "REMOTEINFO")
        expect_eq(env.get("SSL_CLIENT_VERIFY"), "SUCCESS", "VERIFY")
        expect_in("relay granted to good@example.com", srv.ourlog(), "log")


@test
def swaks_without_certificate_local_only():
    with Server() as srv:
        p = run(["swaks", "-s", "127.0.0.1", "-p", str(srv.port), "--tls",
                 "-f", "a@client.example", "-t", "someone@foreign.net"])
        expect(p.returncode != 0, "foreign recipient must be refused")
        expect_in(b"553 sorry, that domain isn't in my list of allowed "
                  b"rcpthosts (#5.7.1)", p.stdout, "swaks transcript")
        p = run(["swaks", "-s", "127.0.0.1", "-p", str(srv.port), "--tls",
                 "-f", "a@client.example", "-t", "u@example.org"])
        expect_eq(p.returncode, 0, "local delivery: " + p.stdout.decode())
        expect_eq(len(srv.messages()), 1, "messages")
        env = last_session_env(srv)
        expect("RELAYCLIENT" not in env, "no RELAYCLIENT")
        expect_eq(env.get("SSL_CLIENT_VERIFY"), "NONE", "VERIFY")


@test
def openssl_s_client_tls12_and_tls13():
    with Server() as srv:
        for version, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            p = run(["openssl", "s_client", "-connect",
                     "127.0.0.1:%d" % srv.port, "-starttls", "smtp",
                     "-CAfile", cert("ca.pem"), "-verify_return_error",
                     "-brief", "-crlf", "-ign_eof", "-nocommands", version],
                    input=b"EHLO x\nMAIL FROM:<a@b.org>\n"
                    b"RCPT TO:<u@example.org>\nDATA\n"
                    b"Subject: " + name.encode() + b"\n\nbody\n.\n"
                    b"QUIT\n")     # -crlf turns \n into \r\n
            out = p.stdout + p.stderr
            expect_in(b"Protocol version: " + name.encode(), out, "s_client")
            expect_in(b"Verification: OK", out, "server certificate")
            expect_in(b"250 ok", out, "message accepted")
        msgs = srv.messages()
        expect_eq(len(msgs), 2, "messages")
        expect_in(b"Subject: TLSv1.2", msgs[0][2], "first")
        srv.idle()
        expect_in("tls TLSv1.2 ", srv.ourlog(), "log")
        expect_in("tls TLSv1.3 ", srv.ourlog(), "log")


@test
def curl_ssl_reqd():
    with Server() as srv:
        msg = os.path.join(srv.dir, "msg")
        with open(msg, "wb") as f:
            f.write(b"Subject: curl\r\n\r\nsent by curl\r\n")
        p = run(["curl", "-sS", "--ssl-reqd", "--cacert", cert("ca.pem"),
                 "--url", "smtp://127.0.0.1:%d/client.example" % srv.port,
                 "--mail-from", "a@client.example", "--mail-rcpt",
                 "u@example.org", "--upload-file", msg])
        expect_eq(p.returncode, 0, "curl: " + p.stderr.decode())
        p = run(["curl", "-sS", "--ssl-reqd", "--cacert", cert("ca.pem"),
                 "--cert", cert("client.pem"), "--key", cert("client.key"),
                 "--url", "smtp://127.0.0.1:%d/client.example" % srv.port,
                 "--mail-from", "a@client.example", "--mail-rcpt",
                 "x@foreign.net", "--upload-file", msg])
        expect_eq(p.returncode, 0, "curl with certificate: " +
                  p.stderr.decode())
        msgs = srv.messages()
        expect_eq([m[1] for m in msgs], [["u@example.org"], ["x@foreign.net"]],
                  "recipients")
        expect_in(b"sent by curl", msgs[1][2], "body")


@test
def python_smtplib_starttls():
    with Server() as srv:
        ctx = ssl.create_default_context(cafile=cert("ca.pem"))
        ctx.load_cert_chain(cert("client.pem"), cert("client.key"))
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as s:
            s.ehlo("client.example")
            expect(s.has_extn("starttls"), "STARTTLS advertised")
            s.starttls(context=ctx)
            s.ehlo("client.example")
            expect(not s.has_extn("starttls"), "no STARTTLS after TLS")
            s.sendmail("a@client.example", ["x@foreign.net"],
                       b"Subject: smtplib\r\n\r\nhi\r\n")
        expect_eq(srv.messages()[0][1], ["x@foreign.net"], "relayed")
