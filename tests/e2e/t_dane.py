"""DANE (RFC 7672) in starttls-remote, with real parts on loopback: unbound
validating zones that nsd serves, signed at test time (tests/e2e/dnssec.py),
and real TLS servers on port 25 of 127.0.0.x: starttls-smtpd itself and
aiosmtpd.  Every failure must defer or try the next MX, never bounce and
never send in plaintext.
"""
import os

import dnssec
import postfix
from dnssec import Resolver, tlsa_data
from lib import (collector, Server, cert, expect, expect_eq, expect_in,
                 expect_not_in)
from peers import Aiosmtpd, QmailHome, remote

TESTS, test = collector()

MSG = b"Subject: dane\n\nhello\n"


def need_root():
    """The servers listen on port 25 of 127.0.0.x, as MX hosts do."""
    return os.geteuid() != 0


def tlsa(usage, selector, mtype, pem):
    return "%d %d %d %s" % (usage, selector, mtype,
                            tlsa_data(cert(pem), selector, mtype))


def deliver(r, domain, home=None):
    """starttls-remote to u@domain through the resolver: the report."""
    rep = remote(home or QmailHome(), domain, "s@sender.example",
                 ["u@" + domain], MSG, env=r.env)
    expect(rep.complete and rep.status == 0, "incomplete report %r" % (rep,))
    return rep


def delivered(rep, ip, what):
    expect(rep.final.startswith("K%s accepted" % ip), "%s: %r" %
           (what, rep.final))


def deferred(rep, text, what):
    expect(rep.final.startswith("Z"), "%s: not deferred: %r" %
           (what, rep.final))
    expect_in(text, rep.final, what)


# a zone whose MX hosts publish TLSA records for the test certificates
def dane_zone():
    return "\n".join([
        "ee MX 10 mx1", "mx1 A 127.0.0.21",
        "_25._tcp.mx1 TLSA " + tlsa(3, 1, 1, "server.pem"),
        "ee301 MX 10 mx2", "mx2 A 127.0.0.22",
        "_25._tcp.mx2 TLSA " + tlsa(3, 0, 1, "server.pem"),
        "_25._tcp.mx2 TLSA " + tlsa(3, 1, 2, "other-ca.pem"),
        # a record for another certificate, then a second MX without TLSA
        "nomatch MX 10 mx3", "mx3 A 127.0.0.23",
        "_25._tcp.mx3 TLSA " + tlsa(3, 1, 1, "other-ca.pem"),
        "second MX 10 mx3", "second MX 20 mx4", "mx4 A 127.0.0.24",
        "nostls MX 10 mx5", "mx5 A 127.0.0.25",
        "_25._tcp.mx5 TLSA " + tlsa(3, 1, 1, "server.pem"),
        # PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP
        "unusable MX 10 mx6", "mx6 A 127.0.0.26",
        "_25._tcp.mx6 TLSA " + tlsa(0, 0, 1, "ca.pem"),
        "_25._tcp.mx6 TLSA " + tlsa(1, 1, 1, "server.pem"),
        "expired MX 10 mx7", "mx7 A 127.0.0.27",
        "_25._tcp.mx7 TLSA " + tlsa(3, 1, 1, "expired.pem"),
        # the TLSA answer is forged (a broken signature): SERVFAIL
        "forged MX 10 mx8", "mx8 A 127.0.0.28",
        "_25._tcp.mx8 TLSA " + tlsa(3, 1, 1, "server.pem"),
        # Postfix as the MX: its certificate, then another one
        "pf MX 10 mxpf", "mxpf A 127.0.0.32",
        "_25._tcp.mxpf TLSA " + tlsa(3, 1, 1, "server.pem"),
        "pfbad MX 10 mxpfbad", "mxpfbad A 127.0.0.32",
        "_25._tcp.mxpfbad TLSA " + tlsa(2, 0, 1, "other-ca.pem"),
    ])


def resolver():
    return Resolver({
        "dane.test": dane_zone(),
        # DANE-TA: the intermediate CA of mail.example.net's chain
        "example.net": "@ MX 10 mx\nmx A 127.0.0.29\n_25._tcp.mx TLSA " +
        tlsa(2, 0, 1, "intermediate.pem"),
        "plain.test": "@ MX 10 mx\nmx A 127.0.0.30\n_25._tcp.mx TLSA " +
        tlsa(3, 1, 1, "other-ca.pem"),
        "bogus.test": "@ MX 10 mx\nmx A 127.0.0.31\n",
    }, signed=["dane.test", "example.net", "bogus.test"],
        bogus=["bogus.test", "_25._tcp.mx8.dane.test"])


@test
def dane_test_resolver_validates():
    """The test DNS itself, by raw queries: secure zones answer with AD,
    secure denial too, unsigned zones without, forged answers SERVFAIL;
    so a failure in the tests below is starttls-remote's."""
    try:
        dnssec.check(verbose=False)
    except AssertionError as e:
        expect(False, "test resolver: %s" % e)


@test
def dane_ee_matches_deliver():
    """3 1 1 and 3 0 1 records for the server's certificate: delivered, and
    the K report says DANE verified it and which record matched; an
    expired leaf under 3 1 1 too (DANE-EE ignores dates)."""
    if need_root():
        return "skip"
    with resolver() as r, \
            Aiosmtpd(host="127.0.0.21", port=25) as a1, \
            Aiosmtpd(host="127.0.0.22", port=25) as a2, \
            Aiosmtpd(host="127.0.0.27", port=25, certname="expired") as a7:
        rep = deliver(r, "ee.dane.test")
        delivered(rep, "127.0.0.21", "3 1 1")
        expect_in("DANE verified: TLSA 3 1 1 of mx1.dane.test matched",
                  rep.final, "K report")
        rep = deliver(r, "ee301.dane.test")
        delivered(rep, "127.0.0.22", "3 0 1")
        expect_in("TLSA 3 0 1 of mx2.dane.test", rep.final, "K report")
        rep = deliver(r, "expired.dane.test")
        delivered(rep, "127.0.0.27", "expired leaf")
        expect_eq((len(a1.messages), len(a2.messages), len(a7.messages)),
                  (1, 1, 1), "messages")


@test
def dane_ta_chain_to_starttls_smtpd():
    """2 0 1 for the intermediate CA, starttls-smtpd presenting the ECDSA
    leaf and that CA for mx.example.net: the chain verifies from the
    anchor, the name matches, the message arrives."""
    if need_root():
        return "skip"
    pem = open(cert("mx.key")).read() + open(cert("mx-fullchain.pem")).read()
    srv = Server(control={"servercert.pem": pem, "rcpthosts": "example.net\n"},
                 host="127.0.0.29", port=25)
    with resolver() as r, srv:
        rep = deliver(r, "example.net")
        delivered(rep, "127.0.0.29", "2 0 1")
        expect_in("DANE verified: TLSA 2 0 1 of mx.example.net matched",
                  rep.final, "K report")
        srv.idle()
        expect_eq(len(srv.messages()), 1, "messages")


@test
def dane_failures_defer_or_try_next_mx():
    """No match: that MX is not used; with no other MX the message is
    deferred with the reason, with a second MX without TLSA it goes there.
    TLSA records but no STARTTLS: deferred, and nothing was sent in
    plaintext (the server saw no MAIL)."""
    if need_root():
        return "skip"
    with resolver() as r, \
            Aiosmtpd(host="127.0.0.23", port=25) as a3, \
            Aiosmtpd(tls=False, host="127.0.0.24", port=25) as a4, \
            Aiosmtpd(tls=False, host="127.0.0.25", port=25) as a5:
        rep = deliver(r, "nomatch.dane.test")
        deferred(rep, "No usable TLSA match for mx3.dane.test; connected "
                 "to 127.0.0.23.", "no match")
        rep = deliver(r, "second.dane.test")
        delivered(rep, "127.0.0.24", "second MX")
        rep = deliver(r, "nostls.dane.test")
        deferred(rep, "STARTTLS not offered by mx5.dane.test, which "
                 "publishes TLSA records", "no STARTTLS")
        expect_eq(a3.messages, [], "mx3 got a message")
        expect_eq(len(a4.messages), 1, "mx4")
        expect_eq(a5.messages, [], "mx5 got a message in plaintext")
        expect_not_in("MAIL", " ".join(a5.handler.commands), "mx5 commands")


@test
def dane_lookup_failures_defer():
    """A forged TLSA answer (SERVFAIL from the validating resolver) for a
    secure MX host defers without connecting; a bogus zone defers at the
    MX lookup.  Neither bounces, neither downgrades."""
    if need_root():
        return "skip"
    with resolver() as r, \
            Aiosmtpd(host="127.0.0.28", port=25) as a8, \
            Aiosmtpd(tls=False, host="127.0.0.31", port=25) as a31:
        rep = deliver(r, "forged.dane.test")
        deferred(rep, "TLSA lookup failed for mx8.dane.test; connecting "
                 "to 127.0.0.28.", "forged TLSA")
        rep = deliver(r, "bogus.test")
        expect(rep.final.startswith("Z"), "bogus zone: %r" % rep.final)
        expect_eq((a8.messages, a31.messages), ([], []), "messages")


@test
def dane_unusable_records_and_insecure_zones():
    """Only PKIX-TA/PKIX-EE records: TLS is required but not
    authenticated.  A TLSA record in an unsigned zone is no DANE at all:
    the usual opportunistic TLS, whatever the record says."""
    if need_root():
        return "skip"
    with resolver() as r, \
            Aiosmtpd(host="127.0.0.26", port=25) as a6, \
            Aiosmtpd(host="127.0.0.30", port=25) as a30:
        rep = deliver(r, "unusable.dane.test")
        delivered(rep, "127.0.0.26", "unusable records")
        expect_in("server certificate not verified: no usable TLSA record "
                  "of mx6.dane.test", rep.final, "K report")
        rep = deliver(r, "plain.test")
        delivered(rep, "127.0.0.30", "insecure zone")
        expect_in("server certificate not verified.", rep.final, "K report")
        expect_not_in("DANE", rep.final, "K report")
        expect_eq((len(a6.messages), len(a30.messages)), (1, 1), "messages")


@test
def dane_and_the_control_files():
    """tlshosts/<host>.pem wins over DANE; notlshosts/<host> is the
    administrator's word for that server; tlshosts/exhaustivelist does
    not stop DANE; control/nodane turns DANE off (the record that does not
    match is then not looked at)."""
    if need_root():
        return "skip"
    with resolver() as r, \
            Aiosmtpd(host="127.0.0.21", port=25) as a1, \
            Aiosmtpd(host="127.0.0.23", port=25) as a3:
        home = QmailHome()
        home.put("tlshosts/mx1.dane.test.pem", open(cert("ca.pem")).read())
        rep = deliver(r, "ee.dane.test", home)
        deferred(rep, "TLS unable to verify server mx1.dane.test",
                 "tlshosts wins")
        home = QmailHome()
        home.put("notlshosts/mx3.dane.test", "")
        rep = deliver(r, "nomatch.dane.test", home)
        delivered(rep, "127.0.0.23", "notlshosts")
        expect_in("No TLS: not tried", rep.final, "K report")
        home = QmailHome()
        home.put("tlshosts/exhaustivelist", "")
        rep = deliver(r, "ee.dane.test", home)
        expect_in("DANE verified", rep.final, "exhaustivelist")
        home = QmailHome()
        home.put("nodane", "")
        rep = deliver(r, "nomatch.dane.test", home)
        delivered(rep, "127.0.0.23", "nodane")
        expect_in("server certificate not verified.", rep.final, "nodane")
        expect_eq((len(a1.messages), len(a3.messages)), (1, 2), "messages")


@test
def dane_postfix_server():
    """A real MTA as the MX: Postfix presenting the test server
    certificate; 3 1 1 for it delivers, verified; a 2 0 1 record for a CA
    that did not sign it defers, and Postfix gets no message."""
    if need_root() or postfix.available():
        return "skip"
    pf = postfix.Postfix({"virtual_mailbox_domains": "pf.dane.test, "
                          "pfbad.dane.test"}, host="127.0.0.32", port=25)
    with resolver() as r, pf:
        rep = deliver(r, "pfbad.dane.test")
        deferred(rep, "No usable TLSA match for mxpfbad.dane.test",
                 "no match")
        rep = deliver(r, "pf.dane.test")
        delivered(rep, "127.0.0.32", "3 1 1")
        expect_in("DANE verified: TLSA 3 1 1 of mxpf.dane.test matched",
                  rep.final, "K report")
        expect(pf.wait_mailbox(1), "Postfix delivered nothing:\n" +
               pf.log()[-1500:])
        expect_eq(len(pf.mailbox()), 1, "messages")
