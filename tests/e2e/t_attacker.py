"""The outbound policy with an attacker on the path: the test forges the
MX answers (unsigned zones that nsd serves, unbound in front), cuts the
policy stream, stalls the policy host, and has the test CA issue odd
certificates.  For an MTA-STS enforce domain and for one that
control/tlsdestinations requires TLS of, no message byte may reach a
host the policy refuses, and the message is deferred (Z), never bounced.
"""
import contextlib
import os
import socket
import subprocess
import threading
import time

from dnssec import Resolver
from lib import (collector, cert, expect, expect_eq, expect_in,
                 expect_not_in, CERTS)
from peers import REMOTE, Aiosmtpd, QmailHome, Scripted
from t_sts import PolicyServer, deliver, http, policy

TESTS, test = collector()

GOOD, PLAIN, EVIL = "127.0.0.51", "127.0.0.52", "127.0.0.53"
CNONLY, PARTIAL = "127.0.0.54", "127.0.0.55"
POLICY, STALL = "127.0.0.56", "127.0.0.57"

# the forged MX answers, each for a domain whose policy lists mx1.<d>
FORGED = {
    "fa1.test": "127.0.0.52.",              # an address as a name
    "fa2.test": "[127.0.0.52].",            # an address literal
    "fa3.test": "evil/x.fa3.test.",         # a name no pattern can match
    "fa4.test": "legacy.fa4.test.",         # a host in notlshosts/
    "fa5.test": "pinned.fa5.test.",         # a host with tlshosts/H.pem
    "fa6.test": "mx.attacker.test.",        # the attacker's own name
}
OTHER = ("ok.test", "cn.test", "pw.test", "cut.test", "whole.test",
         "stall.test", "many.test", "smart.test", "goodsmart.test",
         "plant.test", "refresh.test", "loc.test", "attacker.test")
DOMAINS = tuple(FORGED) + OTHER


def need_root():
    """The servers listen on ports 25 and 443 of 127.0.0.x."""
    return os.geteuid() != 0


def issue(name, subj, san=None):
    """A certificate of the test CA (made once) in CERTS/name.pem."""
    pem = os.path.join(CERTS, name + ".pem")
    if os.path.exists(pem):
        return
    argv = ["openssl", "req", "-new", "-x509", "-days", "30", "-newkey",
            "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", os.path.join(CERTS, name + ".key"), "-out", pem,
            "-subj", subj, "-CA", cert("ca.pem"), "-CAkey", cert("ca.key"),
            "-addext", "extendedKeyUsage=serverAuth",
            "-addext", "basicConstraints=critical,CA:FALSE"]
    if san:
        argv += ["-addext", "subjectAltName=" + san]
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def certificates():
    issue("attack", "/CN=attack test", ",".join(
        "DNS:%s,DNS:mta-sts.%s,DNS:*.%s" % (d, d, d) for d in DOMAINS))
    issue("cnonly", "/CN=mx1.cn.test")                   # no SAN at all
    issue("partial", "/CN=partial", "DNS:m*.pw.test")    # a partial wildcard


def zone(d, mx, mxip=None, txt=True, policy_ip=POLICY):
    """Domain d: its MTA-STS TXT record and policy host, and MX mx."""
    z = '@ MX 10 %s\n' % mx
    if txt:
        z += '_mta-sts TXT "v=STSv1; id=1;"\nmta-sts A %s\n' % policy_ip
    if mxip:
        z += "%s A %s\n" % (mx.split(".")[0], mxip)
    return z


def zones():
    z = {d: zone(d, mx) for d, mx in FORGED.items()}
    z["fa3.test"] += "evil/x A %s\n" % PLAIN
    z["fa4.test"] += "legacy A %s\n" % PLAIN
    z["fa5.test"] += "pinned A %s\n" % PLAIN
    z["attacker.test"] = "mx A %s\n" % EVIL
    z["ok.test"] = zone("ok.test", "MX1.OK.test.", txt=True) + \
        "mx1 A %s\n" % GOOD
    z["cn.test"] = zone("cn.test", "mx1", CNONLY)
    z["pw.test"] = zone("pw.test", "mx1", PARTIAL)
    for d in ("cut.test", "whole.test", "refresh.test", "loc.test"):
        z[d] = zone(d, "mx1", GOOD)
    z["cut.test"] = zone("cut.test", "mx1", PLAIN)
    z["stall.test"] = zone("stall.test", "mx1", PLAIN, policy_ip=STALL)
    z["many.test"] = zone("many.test", "mx1", GOOD)
    z["smart.test"] = zone("smart.test", "mx1", GOOD) + "@ A %s\n" % PLAIN
    z["goodsmart.test"] = zone("goodsmart.test", "mx1", PLAIN) + \
        "@ A %s\n" % GOOD
    z["plant.test"] = zone("plant.test", "mx1", PLAIN)
    return z


def policies():
    p = {d: http(policy(d)) for d in DOMAINS}
    p["many.test"] = http(policy("many.test", mx=tuple(
        "mx%d.elsewhere.many.test" % i for i in range(39)) +
        ("mx1.many.test",)))
    p["smart.test"] = http(policy("smart.test", mx=("smart.test",)))
    p["goodsmart.test"] = http(policy("goodsmart.test",
                                      mx=("goodsmart.test",)))
    p["refresh.test"] = http(policy("refresh.test", max_age=4))
    return p


def closed_body(text):
    """A response whose body ends where the connection does."""
    return (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" +
            text.encode())


class PolicyHost(PolicyServer):
    """The policy host on POLICY:443 with the test CA's certificate for
    every domain here.  cut.test's body ends with the TCP stream cut,
    without TLS's close_notify; whole.test's the same way, but with
    close_notify."""

    def __init__(self, responses):
        super().__init__(responses, host=POLICY, certname="attack")

    def finish(self, conn, domain):
        if domain == "cut.test":
            conn.s.shutdown(socket.SHUT_RDWR)   # TCP's end, not TLS's
        elif domain == "whole.test":
            conn.s.unwrap()                     # close_notify


def stall():
    """A policy host on STALL:443 that accepts and never says a word
    (its .connections counts them)."""
    quiet = threading.Event()
    s = Scripted(lambda conn: quiet.wait(30), host=STALL, port=443)
    s.quiet = quiet
    return s


@contextlib.contextmanager
def world():
    """(resolver, policy host, the good MX, the attacker's plaintext
    host, the attacker's TLS host with a certificate for its own name)."""
    certificates()
    good = Aiosmtpd(host=GOOD, port=25, certname="attack")
    plain = Aiosmtpd(tls=False, host=PLAIN, port=25)
    evil = Aiosmtpd(host=EVIL, port=25, certname="attack")
    cnonly = Aiosmtpd(host=CNONLY, port=25, certname="cnonly")
    partial = Aiosmtpd(host=PARTIAL, port=25, certname="partial")
    with Resolver(zones()) as r, PolicyHost(policies()) as ph, good, \
            plain, evil, cnonly, partial:
        yield r, ph, good, plain, evil


def home(**control):
    """A qmail home: the test CA for MTA-STS, a cache only qmailr (here:
    this user) can write, and the control files given."""
    h = QmailHome(control=dict({"mtastscafile": cert("ca.pem") + "\n"},
                               **control))
    os.makedirs(os.path.join(h.dir, "queue", "mta-sts"), mode=0o700)
    return h


def deferred(rep, what, text=None):
    expect(rep.final.startswith("Z"), "%s: not deferred: %r" %
           (what, rep.final))
    if text:
        expect_in(text, rep.final, what)


def untouched(server, what):
    expect_eq(server.handler.commands, [], "%s: commands the refused "
              "server saw" % what)
    expect_eq(server.handler.messages, [], "%s: messages" % what)


@test
def forged_mx_of_an_enforce_domain():
    """MTA-STS enforce, mx1.<d> listed; the attacker answers the MX query
    with an address, an address literal, a name with a '/', a host the
    administrator put in notlshosts/, one with a tlshosts/ pem, and its
    own name with a valid certificate.  Each is deferred with the reason,
    and no host got a command.  A listed MX in upper case with a
    trailing dot is still the listed MX."""
    if need_root():
        return "skip"
    with world() as (r, ph, good, plain, evil):
        h = home()
        h.put("notlshosts/legacy.fa4.test", "")
        h.put("tlshosts/pinned.fa5.test.pem", open(cert("ca.pem")).read())
        for d, mx in FORGED.items():
            rep = deliver(r, h, d)
            deferred(rep, d, "%s is not an MX host of the MTA-STS policy "
                     "of %s" % (mx.rstrip("."), d))
            expect_in("(#4.7.5)", rep.final, d)
        untouched(plain, "enforce")
        untouched(evil, "enforce")
        rep = deliver(r, h, "ok.test")
        expect(rep.final.startswith("K%s accepted" % GOOD), rep.final)
        expect_in("MTA-STS enforce, certificate verified.", rep.final, "ok")


@test
def forged_mx_of_a_locally_required_domain():
    """The same forged answers for domains that control/tlsdestinations
    requires a verified certificate of (no MTA-STS): none is used, or,
    within the domain, none gets a message without TLS.  A local rule
    replaces the domain's MTA-STS policy, and an "encrypt" rule refuses
    plaintext to an address-like MX."""
    if need_root():
        return "skip"
    lines = "".join("%s:verify\n" % d for d in FORGED if d != "fa1.test")
    with world() as (r, ph, good, plain, evil):
        h = home(tlsdestinations="fa1.test:encrypt\n" + lines +
                 "loc.test:verify ca=%s\n" % cert("ca.pem"), nomtasts="")
        h.put("notlshosts/legacy.fa4.test", "")
        h.put("tlshosts/pinned.fa5.test.pem", open(cert("ca.pem")).read())
        deferred(deliver(r, h, "fa1.test"), "encrypt, address MX",
                 "STARTTLS not offered by 127.0.0.52, which control/"
                 "tlsdestinations line 1 requires TLS of")
        for d in ("fa2.test", "fa3.test", "fa6.test"):
            deferred(deliver(r, h, d), d, "is not an MX host that control/"
                     "tlsdestinations line ")
        deferred(deliver(r, h, "fa4.test"), "notlshosts under verify",
                 "STARTTLS not offered by legacy.fa4.test")
        deferred(deliver(r, h, "fa5.test"), "pem under verify",
                 "No TLS achieved while control/tlshosts/pinned.fa5.test."
                 "pem exists")
        untouched(plain, "local")
        untouched(evil, "local")
        rep = deliver(r, h, "loc.test")
        expect(rep.final.startswith("K%s accepted" % GOOD), rep.final)
        expect_in("certificate verified, as control/tlsdestinations line 7 "
                  "requires.", rep.final, "loc.test")
        h2 = home(tlsdestinations="fa6.test:may\n")
        rep = deliver(r, h2, "fa6.test")
        expect(rep.final.startswith("K%s accepted" % EVIL), "a local may "
               "replaces MTA-STS: %r" % rep.final)
        h3 = home(tlsdestinations="fa6.test:verfy\n")
        deferred(deliver(r, h3, "fa6.test"), "a bad line",
                 "Unable to use control/tlsdestinations line 1, the rule "
                 "for fa6.test: unknown rule verfy.")


@test
def certificates_the_attacker_can_get_issued():
    """From a CA the policy trusts: a certificate with the MX name only
    in its CN, and one for m*.pw.test.  MTA-STS refuses both (RFC 8461
    4.2, RFC 6125); tlshosts/ refuses the partial wildcard too, and keeps
    the qmail-tls patch's CN rule."""
    if need_root():
        return "skip"
    with world() as (r, ph, good, plain, evil):
        h = home()
        deferred(deliver(r, h, "cn.test"), "CN only", "MTA-STS policy of "
                 "cn.test: TLS unable to verify server mx1.cn.test: "
                 "certificate has no subjectAltName DNS names")
        deferred(deliver(r, h, "pw.test"), "m*.pw.test", "MTA-STS policy of "
                 "pw.test: TLS unable to verify server mx1.pw.test: "
                 "certificate contains no matching dNSNnames")
        h2 = home(nomtasts="")
        h2.put("tlshosts/mx1.pw.test.pem", open(cert("ca.pem")).read())
        h2.put("tlshosts/mx1.cn.test.pem", open(cert("ca.pem")).read())
        deferred(deliver(r, h2, "pw.test"), "tlshosts, m*.pw.test",
                 "TLS unable to verify server mx1.pw.test")
        rep = deliver(r, h2, "cn.test")
        expect(rep.final.startswith("K%s accepted" % CNONLY), rep.final)
        expect_in("server certificate verified.", rep.final, "tlshosts CN")


@test
def policy_cut_short_is_no_policy():
    """A policy body that ends with the stream: without TLS's
    close_notify it may have been cut at a record boundary, and is not
    taken (the message goes as with no policy, and the report says so);
    with close_notify it is whole, and enforced."""
    if need_root():
        return "skip"
    text = "version: STSv1\nmode: enforce\nmx: mx1.%s\nmax_age: 86400\n"
    with world() as (r, ph, good, plain, evil):
        ph.responses["cut.test"] = closed_body(text % "cut.test")
        ph.responses["whole.test"] = closed_body(text % "whole.test")
        h = home()
        rep = deliver(r, h, "cut.test")
        expect(rep.final.startswith("K%s accepted" % PLAIN), rep.final)
        expect_in("MTA-STS policy of cut.test not fetched: mta-sts.cut.test "
                  "gave a body up to a close that was not TLS's", rep.final,
                  "cut")
        rep = deliver(r, h, "whole.test")
        expect_in("MTA-STS enforce, certificate verified.", rep.final,
                  "whole")
        expect_in("max_age: 86400\n", open(os.path.join(
            h.dir, "queue", "mta-sts", "whole.test")).read(), "cached")


@test
def stalled_policy_host_costs_one_delivery():
    """A policy host that accepts and never answers: the first delivery
    waits for the fetch's limit and goes on without a policy; the second
    does not connect to it again (the failure is remembered for the id)."""
    if need_root():
        return "skip"
    st = stall()
    with st, world() as (r, ph, good, plain, evil):
        h = home()
        rep = deliver(r, h, "stall.test")
        expect(rep.final.startswith("K%s accepted" % PLAIN), rep.final)
        expect_in("MTA-STS policy of stall.test not fetched: TLS with "
                  "mta-sts.stall.test failed: timed out", rep.final, "first")
        rep = deliver(r, h, "stall.test")
        expect_in("MTA-STS policy of stall.test not fetched: the last fetch "
                  "failed ", rep.final, "second")
        expect_eq(st.connections, 1, "connections to the policy host")
        st.quiet.set()


@test
def many_mx_lines_and_a_smart_host():
    """A policy of 40 mx lines whose last is the MX: delivered.  A route
    to a smart host by name makes its name the policy domain (RFC 8461
    3.4): enforced there, deferred when the smart host has no TLS."""
    if need_root():
        return "skip"
    with world() as (r, ph, good, plain, evil):
        rep = deliver(r, home(), "many.test")
        expect(rep.final.startswith("K%s accepted" % GOOD), rep.final)
        h = home(smtproutes="routed.example:smart.test\n"
                 "good.example:goodsmart.test\n")
        deferred(deliver(r, h, "routed.example"), "smart host without TLS",
                 "STARTTLS not offered by smart.test, which the MTA-STS "
                 "policy of smart.test requires TLS of")
        untouched(plain, "smart host")
        rep = deliver(r, h, "good.example")
        expect(rep.final.startswith("K%s accepted" % GOOD), rep.final)
        expect_in("MTA-STS enforce, certificate verified.", rep.final,
                  "good smart host")
        expect_eq(ph.fetches("smart.test"), 1, "the smart host's policy")


@test
def cache_others_can_write_is_not_used():
    """A cache directory of mode 1777, and a cache file owned by another
    user, each holding "mode: none" for an enforce domain: neither is
    honoured (the message is deferred, not sent in plaintext), the
    report says why, and -C calls both errors."""
    if need_root():
        return "skip"
    planted = ("expires 99999999999\nid 1\nversion: STSv1\nmode: none\n"
               "max_age: 86400\n")
    with world() as (r, ph, good, plain, evil):
        h = home()
        cache = os.path.join(h.dir, "queue", "mta-sts")
        with open(os.path.join(cache, "plant.test"), "w") as f:
            f.write(planted)
        os.chmod(cache, 0o1777)
        rep = deliver(r, h, "plant.test")
        deferred(rep, "mode 1777", "STARTTLS not offered by mx1.plant.test")
        expect_in("MTA-STS cache not used: ", rep.final, "mode 1777")
        expect_in("can be written by others (mode 1777)", rep.final,
                  "mode 1777")
        out = check(h)
        expect_in("mtastsdir: error: ", out, "-C, mode 1777")
        os.chmod(cache, 0o700)
        with open(os.path.join(cache, "plant.test"), "w") as f:
            f.write(planted)
        os.chown(os.path.join(cache, "plant.test"), 65534, 65534)
        out = check(h)
        expect_in("plant.test is owned by uid 65534", out, "-C, owner")
        rep = deliver(r, h, "plant.test")
        deferred(rep, "another user's file", "STARTTLS not offered by "
                 "mx1.plant.test")
        expect_in("plant.test is owned by uid 65534", rep.final, "owner")
        untouched(plain, "planted")


def check(h):
    p = subprocess.run([REMOTE, "-C"], capture_output=True,
                       text=True, timeout=60,
                       env={"STARTTLS_QMAILHOME": h.dir, "PATH":
                            os.environ.get("PATH", "/usr/bin:/bin")})
    return p.stdout + p.stderr


@test
def policy_refreshed_before_it_lapses():
    """A cached policy past half its max_age is fetched again by the
    next delivery, so a policy host down at the wrong moment later does
    not let it lapse; a fresh one is not."""
    if need_root():
        return "skip"
    with world() as (r, ph, good, plain, evil):
        h = home()
        deliver(r, h, "refresh.test")
        deliver(r, h, "refresh.test")
        expect_eq(ph.fetches("refresh.test"), 1, "fresh")
        time.sleep(2.5)
        rep = deliver(r, h, "refresh.test")
        expect_eq(ph.fetches("refresh.test"), 2, "refreshed")
        expect_in("MTA-STS enforce, certificate verified.", rep.final,
                  "refreshed")
        expect_not_in("not fetched", rep.final, "refreshed")
