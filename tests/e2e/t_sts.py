"""MTA-STS (RFC 8461) in starttls-remote, with real parts on loopback:
unbound and nsd for the TXT, MX and A records (tests/e2e/dnssec.py, unsigned
zones), an HTTPS server for the policies (Python's ssl, certificates of
the test CA made here), and aiosmtpd MX hosts on port 25 of 127.0.0.x.
Enforce mode never sends in plaintext and never bounces; testing mode
delivers and says what would have failed; the cache spares a fetch.
"""
import contextlib
import os
import socket
import ssl
import subprocess
import threading
import time

from dnssec import Resolver, tlsa_data
from lib import (collector, cert, expect, expect_eq, expect_in,
                 expect_not_in, CERTS)
from peers import Aiosmtpd, QmailHome, Scripted, remote

TESTS, test = collector()

MSG = b"Subject: sts\n\nhello\n"
POLICY_IP = "127.0.0.41"
GOOD_MX, PLAIN_MX, LOCALHOST_MX = "127.0.0.42", "127.0.0.43", "127.0.0.44"
OTHERCA_MX = "127.0.0.45"
STALL_IP = "127.0.0.46"         # a policy host that never answers

DOMAINS = ("good.test", "wild.test", "nomatch.test", "notls.test",
           "badcert.test", "testing.test", "fail.test", "redirect.test",
           "ctype.test", "malformed.test", "big.test", "chunked.test",
           "cache.test", "conc.test", "route.test", "danests.test",
           "otherca.test", "corrupt.test", "stall.test")


def need_root():
    """The servers listen on ports 25 and 443 of 127.0.0.x."""
    return os.geteuid() != 0


def sts_cert():
    """In CERTS: sts.pem and sts.key, the test CA's certificate for every
    mta-sts.<domain> and *.<domain> of DOMAINS; stsother.pem and .key,
    the same names from a CA that no policy trusts (made once)."""
    san = ",".join("DNS:mta-sts.%s,DNS:*.%s" % (d, d) for d in DOMAINS)
    for name, ca in (("sts", "ca"), ("stsother", "other-ca")):
        pem = os.path.join(CERTS, name + ".pem")
        if os.path.exists(pem):
            continue
        subprocess.run(
            ["openssl", "req", "-new", "-x509", "-days", "30", "-newkey",
             "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", os.path.join(CERTS, name + ".key"), "-out", pem,
             "-subj", "/CN=sts test", "-CA", cert(ca + ".pem"), "-CAkey",
             cert(ca + ".key"), "-addext", "subjectAltName=" + san,
             "-addext", "extendedKeyUsage=serverAuth",
             "-addext", "basicConstraints=critical,CA:FALSE"],
            check=True, capture_output=True, timeout=30)


def policy(d, mode="enforce", mx=("mx1.{d}",), max_age=86400):
    """A policy for domain d ("{d}" in an mx pattern is d)."""
    return ("version: STSv1\nmode: %s\n%smax_age: %d\n" % (
        mode, "".join("mx: %s\n" % m.format(d=d) for m in mx), max_age))


def http(body, ctype="text/plain; charset=utf-8", status="200 OK",
         chunked=False, extra=""):
    """A whole HTTP response."""
    body = body.encode() if isinstance(body, str) else body
    head = "HTTP/1.1 %s\r\nContent-Type: %s\r\n%sConnection: close\r\n" % (
        status, ctype, extra)
    if chunked:
        half = len(body) // 2
        data = b"".join(b"%x\r\n%s\r\n" % (len(p), p)
                        for p in (body[:half], body[half:]) if p)
        data += b"0\r\n\r\n"
        return head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + data
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


class PolicyServer(Scripted):
    """HTTPS on 127.0.0.41:443: for each Host mta-sts.<domain>, the
    response in responses[domain]; every request kept."""

    def __init__(self, responses, host=POLICY_IP, certname="sts"):
        self.responses = responses
        self.requests = []
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert(certname + ".pem"),
                                 cert(certname + ".key"))
        super().__init__(self._answer, host=host, port=443, backlog=64)

    def finish(self, conn, domain):
        """After the response to domain: the connection is closed."""

    def _answer(self, conn):
        conn.s = self.ctx.wrap_socket(conn.s, server_side=True)
        req = b""
        while b"\r\n\r\n" not in req and len(req) < 8192:
            data = conn.s.recv(4096)
            if not data:
                break
            req += data
        host = ""
        for line in req.decode("latin-1").split("\r\n"):
            if line.lower().startswith("host:"):
                host = line[5:].strip()
        self.requests.append((host, req.split(b"\r\n", 1)[0]))
        domain = host[len("mta-sts."):]
        conn.s.sendall(self.responses.get(domain,
                                          http("", status="404 Not Found")))
        self.finish(conn, domain)

    def fetches(self, domain):
        return sum(1 for h, _ in self.requests if h == "mta-sts." + domain)


def zones(ids=None):
    """Each domain: its TXT record (id from ids, default 1), the policy
    host, and MX records (mx1.<d> on GOOD_MX unless said otherwise)."""
    ids = ids or {}
    out = {}
    mx = {"notls.test": PLAIN_MX, "badcert.test": LOCALHOST_MX,
          "otherca.test": OTHERCA_MX,
          "testing.test": PLAIN_MX, "fail.test": PLAIN_MX,
          "redirect.test": PLAIN_MX, "ctype.test": PLAIN_MX,
          "malformed.test": PLAIN_MX, "big.test": PLAIN_MX,
          "stall.test": PLAIN_MX}
    for d in DOMAINS:
        out[d] = ('_mta-sts TXT "v=STSv1; id=%s;"\nmta-sts A %s\n'
                  '@ MX 10 mx1\nmx1 A %s\n' % (
                      ids.get(d, "1"), STALL_IP if d == "stall.test" else
                      POLICY_IP, mx.get(d, GOOD_MX)))
    out["good.test"] += '_mta-sts TXT "v=spf1 -all"\n'     # not ours
    out["danests.test"] += "_25._tcp.mx1 TLSA 3 1 1 %s\n" % tlsa_data(
        cert("sts.pem"), 1, 1)
    return out


def responses():
    big = policy("big.test") + "#" * 70000 + "\n"
    return {d: http(policy(d)) for d in DOMAINS} \
        | {"wild.test": http(policy("wild.test", mx=("*.wild.test",))),
           "nomatch.test": http(policy("nomatch.test",
                                       mx=("other.nomatch.test",))),
           "testing.test": http(policy("testing.test", "testing",
                                       mx=("mx9.testing.test",))),
           "fail.test": http("", status="500 Internal Server Error"),
           "redirect.test": http("", status="301 Moved Permanently",
                                 extra="Location: https://x/\r\n"),
           "ctype.test": http(policy("ctype.test"), ctype="text/html"),
           "malformed.test": http("version: STSv1\nmode: enforce\n"
                                  "mx: mx1.malformed.test\nmax_age: soon\n"),
           "big.test": http(big),
           "chunked.test": http(policy("chunked.test"), chunked=True),
           "danests.test": http(policy("danests.test",
                                       mx=("other.danests.test",)))}


def home(**control):
    """A qmail home with an MTA-STS cache and the test CA for policies."""
    h = QmailHome(control=dict({"mtastscafile": cert("ca.pem") + "\n"},
                               **control))
    os.makedirs(os.path.join(h.dir, "queue", "mta-sts"))
    return h


def deliver(r, h, domain):
    rep = remote(h, domain, "s@sender.example", ["u@" + domain], MSG,
                 env=r.env)
    expect(rep.complete and rep.status == 0, "incomplete report %r" % (rep,))
    return rep


def servers():
    sts_cert()
    return (Aiosmtpd(host=GOOD_MX, port=25, certname="sts"),
            Aiosmtpd(tls=False, host=PLAIN_MX, port=25),
            Aiosmtpd(host=LOCALHOST_MX, port=25),
            Aiosmtpd(host=OTHERCA_MX, port=25, certname="stsother"))


@contextlib.contextmanager
def world(signed=()):
    """Everything running: (resolver, policy server, the good MX, the
    plaintext one, the one whose certificate names localhost)."""
    good, plain, local, other = servers()
    with Resolver(zones(), signed=signed) as r, \
            PolicyServer(responses()) as ps, good, plain, local, other:
        yield r, ps, good, plain, local


@test
def sts_enforce():
    """Enforce: a listed MX (by name or *. pattern) with a certificate
    the CAs vouch for gets the message and the K report says so; an MX
    not in the policy, one without STARTTLS, one whose certificate is for
    another name: deferred, never plaintext (no MAIL reached them)."""
    if need_root():
        return "skip"
    with world() as (r, ps, good, plain, local):
        h = home()
        for d in ("good.test", "wild.test", "chunked.test"):
            rep = deliver(r, h, d)
            expect(rep.final.startswith("K%s accepted" % GOOD_MX), "%s: %r"
                   % (d, rep.final))
            expect_in("MTA-STS enforce, certificate verified.", rep.final, d)
        rep = deliver(r, h, "nomatch.test")
        expect_eq(rep.final, "Zmx1.nomatch.test is not an MX host of the "
                  "MTA-STS policy of nomatch.test; connecting to %s. "
                  "(#4.7.5)\n" % GOOD_MX, "not listed")
        rep = deliver(r, h, "notls.test")
        expect(rep.final.startswith("ZSTARTTLS not offered by mx1.notls."
                                    "test, which the MTA-STS policy of "
                                    "notls.test requires TLS of;"),
               "no STARTTLS: %r" % rep.final)
        rep = deliver(r, h, "badcert.test")
        expect(rep.final.startswith("ZMTA-STS policy of badcert.test: TLS "
                                    "unable to verify server "
                                    "mx1.badcert.test"),
               "certificate for localhost: %r" % rep.final)
        rep = deliver(r, h, "otherca.test")
        expect(rep.final.startswith("ZMTA-STS policy of otherca.test: TLS "
                                    "unable to verify server with "),
               "certificate from an unknown CA: %r" % rep.final)
        expect_eq(len(good.messages), 3, "good MX")
        expect_eq((plain.handler.commands, local.handler.commands), ([], []),
                  "commands the refused servers saw")


@test
def sts_testing_delivers_and_says():
    """Testing mode: the MX not in the policy, without STARTTLS, still
    gets the message; the K report says what enforce would have done."""
    if need_root():
        return "skip"
    with world() as (r, ps, good, plain, local):
        rep = deliver(r, home(), "testing.test")
        expect(rep.final.startswith("K%s accepted" % PLAIN_MX), rep.final)
        expect_in("\nMTA-STS testing: enforce would have refused this: "
                  "mx1.testing.test is not an MX host of the MTA-STS "
                  "policy of testing.test.\n", rep.final, "K report")
        expect_eq(len(plain.messages), 1, "delivered")


@test
def sts_bad_policies_are_no_policy():
    """A fetch that fails, a redirect, the wrong content type, a
    malformed or oversized policy: no policy applies (RFC 8461 3.3), the
    message is delivered as usual, and the report says why."""
    if need_root():
        return "skip"
    with world() as (r, ps, good, plain, local):
        h = home()
        for d, why in (("fail.test", "HTTP status 500"),
                       ("redirect.test", "HTTP status 301 (a redirect, "
                        "not followed)"),
                       ("ctype.test", "not text/plain"),
                       ("malformed.test", "the policy of malformed.test "
                        "has a bad max_age"),
                       ("big.test", "a policy larger than 65536 bytes")):
            rep = deliver(r, h, d)
            expect(rep.final.startswith("K%s accepted" % PLAIN_MX),
                   "%s: %r" % (d, rep.final))
            expect_in("MTA-STS policy of %s not fetched: " % d, rep.final, d)
            expect_in(why, rep.final, d)
        expect_eq(len(plain.messages), 5, "delivered")


@test
def sts_cache_spares_fetches():
    """The policy is fetched once and then read from the cache while the
    TXT id stays; a new id fetches again; a fetch that then fails leaves
    the cached policy in force (RFC 8461 5.1) and is not tried again for
    that id for five minutes; an expired policy is fetched again; a route
    in smtproutes to an address has no policy domain, so no MTA-STS."""
    if need_root():
        return "skip"
    good, plain, local, other = servers()
    resp = responses()
    h = home()
    with PolicyServer(resp) as ps, good, plain, local, other:
        with Resolver(zones()) as r:
            for i in range(3):
                rep = deliver(r, h, "cache.test")
                expect_in("MTA-STS enforce, certificate verified.",
                          rep.final, "delivery %d" % i)
            expect_eq(ps.fetches("cache.test"), 1, "fetches, same id")
            cached = open(os.path.join(h.dir, "queue", "mta-sts",
                                       "cache.test")).read()
            expect_in("id 1\n", cached, "cache file")
            expect_in("mode: enforce\n", cached, "cache file")
        resp["cache.test"] = http("", status="503 Service Unavailable")
        with Resolver(zones({"cache.test": "2"})) as r:
            rep = deliver(r, h, "cache.test")
            expect_eq(ps.fetches("cache.test"), 2, "fetches, new id")
            expect_in("not fetched: mta-sts.cache.test gave HTTP status "
                      "503; the cached one applies", rep.final, "report")
            expect_in("MTA-STS enforce, certificate verified.", rep.final,
                      "the cached policy applies")
            rep = deliver(r, h, "cache.test")
            expect_eq(ps.fetches("cache.test"), 2, "fetches, failed lately")
            expect_in("not fetched: the last fetch failed ", rep.final,
                      "report, failed lately")
            expect_in("MTA-STS enforce, certificate verified.", rep.final,
                      "the cached policy applies still")
        resp["cache.test"] = http(policy("cache.test", max_age=1))
        with Resolver(zones({"cache.test": "3"})) as r:
            deliver(r, h, "cache.test")
            time.sleep(1.5)
            deliver(r, h, "cache.test")
            expect_eq(ps.fetches("cache.test"), 4, "fetches, expired")
        h2 = home(smtproutes="route.test:%s\n" % GOOD_MX)
        with Resolver(zones()) as r:
            rep = deliver(r, h2, "route.test")
            expect(rep.final.startswith("K"), rep.final)
            expect_not_in("MTA-STS", rep.final, "routed")
            expect_eq(ps.fetches("route.test"), 0, "fetches, routed")


@test
def sts_cache_concurrent_writers():
    """20 deliveries at once to a domain whose policy is not cached yet:
    all delivered, the cache file whole and readable, no temporary file
    left behind."""
    if need_root():
        return "skip"
    h = home()
    with world() as (r, ps, good, plain, local):
        reps = [None] * 20

        def one(i):
            reps[i] = remote(h, "conc.test", "s@sender.example",
                             ["u@conc.test"], MSG, env=r.env)
        threads = [threading.Thread(target=one, args=(i,))
                   for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for rep in reps:
            expect(rep is not None and rep.final.startswith("K"),
                   "concurrent: %r" % (rep,))
            expect_in("MTA-STS enforce, certificate verified.", rep.final,
                      "concurrent")
        expect(ps.fetches("conc.test") >= 1, "no fetch")
        cache = os.path.join(h.dir, "queue", "mta-sts")
        expect_eq(sorted(os.listdir(cache)), ["conc.test"], "cache dir")
        rep = deliver(r, h, "conc.test")
        before = ps.fetches("conc.test")
        deliver(r, h, "conc.test")
        expect_eq(ps.fetches("conc.test"), before, "read from the cache")


@test
def sts_dane_wins():
    """A domain with both: its MX publishes TLSA records in a signed zone
    and its MTA-STS policy does not list that MX.  DANE wins (RFC 8461
    2): the message goes, DANE-verified."""
    if need_root():
        return "skip"
    with world(signed=["danests.test"]) as (r, ps, good, plain, local):
        rep = deliver(r, home(), "danests.test")
        expect(rep.final.startswith("K%s accepted" % GOOD_MX), rep.final)
        expect_in("DANE verified: TLSA 3 1 1 of mx1.danests.test matched",
                  rep.final, "K report")


@test
def sts_corrupt_cache_is_no_cache():
    """A cache file that does not parse (a crash mid-write elsewhere, a
    disk error, an administrator's editor) is no cache: the policy is
    fetched again and the file replaced."""
    if need_root():
        return "skip"
    h = home()
    path = os.path.join(h.dir, "queue", "mta-sts", "corrupt.test")
    with world() as (r, ps, good, plain, local):
        for junk in ("", "expires 99999999999\nid 1\nversion: STSv1\n",
                     "\0" * 5000, "expires x\n"):
            with open(path, "w") as f:
                f.write(junk)
            rep = deliver(r, h, "corrupt.test")
            expect_in("MTA-STS enforce, certificate verified.", rep.final,
                      "junk %r" % junk[:20])
            expect_in("mode: enforce\n", open(path).read(), "rewritten")
        expect_eq(ps.fetches("corrupt.test"), 4, "fetches")


@test
def sts_policy_host_that_stalls():
    """A policy host that accepts the connection and never says a word:
    the fetch gives up (20 seconds in all) and the message goes as if
    there were no policy, the report saying why."""
    if need_root():
        return "skip"
    mute = socket.socket()
    mute.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    mute.bind((STALL_IP, 443))
    mute.listen(8)
    try:
        with world() as (r, ps, good, plain, local):
            rep = deliver(r, home(), "stall.test")
            expect(rep.final.startswith("K%s accepted" % PLAIN_MX),
                   rep.final)
            expect_in("MTA-STS policy of stall.test not fetched: TLS with "
                      "mta-sts.stall.test failed: timed out", rep.final,
                      "report")
    finally:
        mute.close()
