"""What DANE and MTA-STS senders see of this server (starttls-smtpd -C -D
and -m), and the ACME deploy hook refusing a rollover that would break
them.  The DNS is nsd and a validating unbound with zones signed at test
time (tests/e2e/dnssec.py); the policy host is the MTA-STS tests' HTTPS
server; the certificates are the test CA's.
"""
import os
import subprocess

from dnssec import Resolver, tlsa_data
from lib import (BUILD, WORK, collector, cert, expect, expect_eq, expect_in,
                 expect_not_in)
from peers import Dnsmasq
from t_deploy import deploy
from t_sts import PolicyServer, http, policy, sts_cert

TESTS, test = collector()

NAME = "mail.example.net"
_serial = [0]


def need_root():
    """The policy host listens on port 443."""
    return os.geteuid() != 0


def openssl(argv):
    subprocess.run(["openssl"] + argv, check=True, capture_output=True,
                   timeout=30)


def issue(name, key=None):
    """A new certificate for NAME from the intermediate CA, with a new key
    (or the key file given: a renewal that keeps it).  (key, fullchain)."""
    keypath = key or os.path.join(WORK, name + ".key")
    pem = os.path.join(WORK, name + ".pem")
    if key is None:
        openssl(["genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", keypath])
    openssl(["req", "-new", "-x509", "-days", "30", "-key", keypath,
         "-subj", "/CN=" + NAME, "-CA", cert("intermediate.pem"),
         "-CAkey", cert("intermediate.key"), "-out", pem,
         "-addext", "subjectAltName=DNS:%s,DNS:mx.example.net" % NAME,
         "-addext", "extendedKeyUsage=serverAuth",
         "-addext", "basicConstraints=critical,CA:FALSE"])
    chain = os.path.join(WORK, name + "-fullchain.pem")
    with open(chain, "w") as f:
        f.write(open(pem).read() + open(cert("intermediate.pem")).read())
    return keypath, chain


def control(key="mx.key", chain="mx-fullchain.pem"):
    """A control directory serving key and chain as servercert.pem."""
    _serial[0] += 1
    d = os.path.join(WORK, "inbound%03d" % _serial[0])
    os.makedirs(d)
    with open(os.path.join(d, "servercert.pem"), "w") as f:
        f.write(open(cert(key) if "/" not in key else key).read() +
                open(cert(chain) if "/" not in chain else chain).read())
    return d


def check(ctl, env, *args):
    """starttls-smtpd -C -D on ctl: (exit, output)."""
    e = dict(os.environ, **env)
    p = subprocess.run([os.path.join(BUILD, "starttls-smtpd"), "-C", "-D",
                        "-c", ctl] + list(args), capture_output=True,
                       text=True, timeout=60, env=e)
    return p.returncode, p.stdout + p.stderr


def finding(out, level, text):
    expect(any(": %s: " % level in l and text in l for l in
               out.splitlines()), "no %s: ...%s... in:\n%s" % (level, text,
                                                             out))


def tlsa(pem, usage=3, selector=1, mtype=1):
    return "_25._tcp.mail TLSA %d %d %d %s\n" % (
        usage, selector, mtype, tlsa_data(pem, selector, mtype))


def zone(records):
    """example.net with records, under a signed root: the resolver then
    validates, as -D asks first."""
    return {".": "", "example.net": "mail A 127.0.0.1\nmx A 127.0.0.1\n" +
            records}


SIGNED = [".", "example.net"]


@test
def inbound_tlsa_that_matches_and_what_to_publish():
    """3 1 1 of the key in use, and 2 1 1 of the issuer with the issuer in
    the chain: ok, exit 0, and the 3 1 1 record of the key is printed
    ready to publish.  Without the issuer in the chain, 2 1 1 matches
    nothing: an error that says what to publish."""
    for records, chain, ok in ((tlsa(cert("mx.pem")), "mx-fullchain.pem",
                                "matches TLSA 3 1 1"),
                               (tlsa(cert("intermediate.pem"), 2),
                                "mx-fullchain.pem", "matches TLSA 2 1 1, "
                                "a certificate of its chain")):
        with Resolver(zone(records), signed=SIGNED) as r:
            code, out = check(control(chain=chain), r.env, NAME)
            expect_eq(code, 0, out)
            finding(out, "ok", ok)
            finding(out, "ok", "the key of servercert.pem is published as: "
                    "_25._tcp.%s. IN TLSA 3 1 1 %s" % (
                        NAME, tlsa_data(cert("mx.pem"))))
            finding(out, "ok", "validates DNSSEC")
    with Resolver(zone(tlsa(cert("intermediate.pem"), 2)),
                  signed=SIGNED) as r:
        code, out = check(control(chain="mx.pem"), r.env, NAME)
        expect_eq(code, 100, out)
        finding(out, "error", "matches none of its 1 TLSA records")
        finding(out, "error", "Publish _25._tcp.%s. IN TLSA 3 1 1 %s" % (
            NAME, tlsa_data(cert("mx.pem"))))


@test
def inbound_renewal_with_a_new_key_or_3_0_1():
    """The record names the next key only, or is 3 0 1 (the whole
    certificate, which every renewal changes): DANE senders would defer,
    so -C says error and exits 100."""
    key, chain = issue("renewed", key=cert("mx.key"))
    for records in (tlsa(issue("nextkey")[1]), tlsa(cert("mx.pem"), 3, 0)):
        with Resolver(zone(records), signed=SIGNED) as r:
            code, out = check(control(key, chain), r.env, NAME)
            expect_eq(code, 100, out)
            finding(out, "error", "DANE senders would defer mail to " + NAME)


@test
def inbound_unsigned_bogus_and_unvalidating():
    """TLSA in an unsigned zone: senders ignore it (a warning, exit 0).
    A bogus zone: the lookup fails, an error.  A resolver that does not
    validate: said, and nothing judged (exit 0)."""
    with Resolver(zone(tlsa(cert("other-ca.pem"))), signed=["."]) as r:
        code, out = check(control(), r.env, NAME)
        expect_eq(code, 0, out)
        finding(out, "warning", "the zone is not signed: senders ignore "
                "them")
    with Resolver(zone(tlsa(cert("mx.pem"))), signed=SIGNED,
                  bogus=["example.net"]) as r:
        code, out = check(control(), r.env, NAME)
        expect_eq(code, 100, out)
        finding(out, "error", "the TLSA lookup failed")
    with Resolver(zone(tlsa(cert("other-ca.pem"))),
                  signed=SIGNED) as r:
        with Dnsmasq(["--server=127.0.0.1#%d" % r.port]) as dm:
            code, out = check(control(), dm.env, NAME)
            expect_eq(code, 0, out)
            expect_not_in("matches none", out, "judged anyway")
            finding(out, "warning", "TLSA records not checked")


@test
def inbound_mta_sts_policy_of_a_domain():
    """-m domain: a policy that lists this server's name and a
    certificate that covers it: ok; a policy that lists other MX hosts
    only: an error under enforce; a listed name the certificate does not
    cover: an error, since senders refuse it."""
    if need_root():
        return "skip"
    zones = {"example.net": "mail A 127.0.0.1\n"}
    for d in ("good.test", "nomatch.test"):
        zones[d] = '_mta-sts TXT "v=STSv1; id=1;"\nmta-sts A 127.0.0.41\n'
    responses = {"good.test": http(policy("good.test", mx=(
                     NAME, "mx2.example.net"))),
                 "nomatch.test": http(policy("nomatch.test",
                                             mx=("mx.nomatch.test",)))}
    sts_cert()
    with Resolver(zones) as r, PolicyServer(responses):
        ctl = control()
        with open(os.path.join(ctl, "mtastscafile"), "w") as f:
            f.write(cert("ca.pem") + "\n")
        code, out = check(ctl, r.env, "-m", "good.test", NAME)
        expect_eq(code, 0, out)
        finding(out, "ok", "%s is an MX of the policy (enforce), and "
                "servercert.pem covers it" % NAME)
        code, out = check(ctl, r.env, "-m", "nomatch.test", NAME)
        expect_eq(code, 100, out)
        finding(out, "error", "none of this server's names is an MX of "
                "the policy (enforce)")
        code, out = check(ctl, r.env, "-m", "good.test", "mx2.example.net")
        expect_eq(code, 100, out)
        finding(out, "error", "mx2.example.net is an MX of the policy "
                "(enforce), but senders refuse servercert.pem")


@test
def deploy_hook_refuses_a_breaking_rollover():
    """A renewal with a new key while only the old key's 3 1 1 record is
    published: the hook refuses (exit 100), servercert.pem stays byte for
    byte, and it prints the record to publish.  Once that record is
    published beside the old one, the same renewal goes in.  FORCE=1
    installs it regardless; a renewal that keeps the key goes in
    untouched."""
    key, chain = issue("rollover")
    ctl = control()
    before = open(os.path.join(ctl, "servercert.pem")).read()
    with Resolver(zone(tlsa(cert("mx.pem"))), signed=SIGNED) as r:
        code, err = deploy(ctl, KEY=key, FULLCHAIN=chain, **r.env)
        expect_eq(code, 100, err)
        expect_in("Publish _25._tcp.%s. IN TLSA 3 1 1 %s" % (
            NAME, tlsa_data(chain)), err, "what to publish")
        expect_eq(open(os.path.join(ctl, "servercert.pem")).read(), before,
                  "servercert.pem after a refusal")
        renewal = issue("samekey", key=cert("mx.key"))
        code, err = deploy(ctl, KEY=renewal[0], FULLCHAIN=renewal[1],
                           **r.env)
        expect_eq(code, 0, "key reuse: " + err)
        code, err = deploy(ctl, KEY=key, FULLCHAIN=chain, FORCE="1",
                           **r.env)
        expect_eq(code, 0, "FORCE: " + err)
    ctl = control()
    with Resolver(zone(tlsa(cert("mx.pem")) + tlsa(chain)),
                  signed=SIGNED) as r:
        code, err = deploy(ctl, KEY=key, FULLCHAIN=chain, **r.env)
        expect_eq(code, 0, "after publishing: " + err)
        expect_in(open(chain).read().split("-----END")[0],
                  open(os.path.join(ctl, "servercert.pem")).read(),
                  "the new certificate")
