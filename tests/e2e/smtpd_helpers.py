"""What the end-to-end tests of starttls-smtpd share: the qmail-smtpd
stand-in's EHLO replies before and after TLS, one whole STARTTLS session
through it, and the memory limit the run script is documented with.
"""
from lib import Client, expect, expect_eq


EHLO_PLAIN = (b"250-standin.example.org\r\n250-STARTTLS\r\n"
              b"250-PIPELINING\r\n250 8BITMIME\r\n")
EHLO_TLS = b"250-standin.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"


def tls_session(srv, certname=None, version=None, rcpt=b"u@example.org",
                body=b"Subject: t\r\n\r\nhello\r\n"):
    """STARTTLS, then one message; returns the client and the RCPT reply."""
    c = Client(srv.port)
    expect_eq(c.reply(), b"220 standin.example.org ESMTP\r\n", "greeting")
    expect_eq(c.cmd(b"EHLO client.example"), EHLO_PLAIN, "plain EHLO")
    expect_eq(c.cmd(b"STARTTLS"), b"220 ready for tls\r\n", "STARTTLS")
    c.starttls(certname, version)
    expect_eq(c.cmd(b"EHLO client.example"), EHLO_TLS, "TLS EHLO")
    r, done = c.mail(rcpt, body, sender=b"a@client.example")
    if done is not None:
        expect(done.startswith(b"250 ok"), "message accepted")
    expect_eq(c.cmd(b"QUIT"), b"221 standin.example.org\r\n", "QUIT")
    c.close()
    return r


def last_session_env(srv):
    srv.idle()
    return srv.senv(srv.sessions()[-1])


# the value README and the manual give for softlimit -m in the run script
SOFTLIMIT = "12000000"
