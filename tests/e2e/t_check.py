"""The configuration check: starttls-smtpd -C and starttls-remote -C on
control directories made at test time, good and broken, as root and as an
unprivileged user (the way an administrator runs it on a live system).
"""
import os
import pwd
import shutil
import subprocess

from dnssec import Resolver, query
from lib import (collector, cert, expect, expect_eq, expect_in,
                 expect_not_in, run, SMTPD, BUILD, WORK)
from peers import Dnsmasq

TESTS, test = collector()

REMOTE = os.path.join(BUILD, "starttls-remote")
_serial = [0]


def control(files):
    """A fresh control directory holding files {relative path: text or
    None (a directory)}; returns its path."""
    _serial[0] += 1
    home = os.path.join(WORK, "check%03d" % _serial[0])
    ctl = os.path.join(home, "control")
    os.makedirs(ctl)
    for name, text in files.items():
        path = os.path.join(ctl, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if text is None:
            os.makedirs(path, exist_ok=True)
        else:
            with open(path, "w") as f:
                f.write(text)
    return ctl


def check_smtpd(ctl, env=None, user=None):
    argv = [SMTPD, "-C", "-c", ctl]
    if user:
        argv = ["setpriv", "--reuid=" + user, "--regid=nogroup",
                "--clear-groups"] + argv
    p = run(argv, env=dict(os.environ, **(env or {})), timeout=30)
    return p.returncode, p.stdout.decode()


def check_remote(ctl, env=None):
    """starttls-remote -C on ctl, its files read as by nobody (this
    machine has no qmailr), a resolver that does not answer failing at
    once."""
    e = dict(os.environ, STARTTLS_QMAILHOME=os.path.dirname(ctl),
             STARTTLS_QMAILR="nobody", RES_OPTIONS="timeout:1 attempts:1")
    e.update(env or {})
    p = run([REMOTE, "-C"], env=e, timeout=30)
    return p.returncode, p.stdout.decode()


def read(name):
    return open(cert(name)).read()


def good_server_files():
    return {
        "servercert.pem": read("servercert.pem"),
        "servercerts/mail.example.net.pem": read("mx.key") +
        read("mx-fullchain.pem"),
        "clientca.pem": read("ca.pem"),
        "clientcrl.pem": read("crl.pem"),
        "tlsclients": "good@example.com\nsan@example.com\n",
        "tlsserverciphers": "ECDHE+AESGCM\n",
    }


def line(out, path, level, text):
    """Is there a finding "<dir>/path: level: ...text..."?"""
    return any(l.split(": ", 1)[0].endswith("/" + path) and
               (": %s: " % level) in l and text in l
               for l in out.splitlines())


def expect_line(out, path, level, text):
    expect(line(out, path, level, text), "no %s: %s: ...%s... in:\n%s" %
           (path, level, text, out))


@test
def check_good_server_configuration():
    """Every file of a sound configuration gets its findings and the exit
    is 0; the output names key type, names, expiry and chain."""
    ctl = control(good_server_files())
    code, out = check_smtpd(ctl)
    expect_eq(code, 0, "exit:\n" + out)
    for path, text in (
            ("servercert.pem", "RSA 2048-bit key, belongs to the first"),
            ("servercert.pem", "names localhost"),
            ("servercert.pem", "expires in "),
            ("servercert.pem", "chain of 2, in order, up to "
             "/CN=starttls test CA (self-signed)"),
            ("servercerts/mail.example.net.pem", "EC 256-bit key"),
            ("servercerts/mail.example.net.pem",
             "names mail.example.net, mx.example.net"),
            ("servercerts/mail.example.net.pem",
             "up to /CN=starttls test intermediate"),
            ("tlsserverciphers", "is accepted"),
            ("clientca.pem", "1 CA certificate"),
            ("clientcrl.pem", "a current CRL for /CN=starttls test CA"),
            ("tlsclients", "2 addresses")):
        expect_line(out, path, "ok", text)
    expect_not_in(": warning: ", out, "warnings")


@test
def check_server_errors_exit_100():
    """Each thing that breaks TLS or relaying is an error line and exit
    100: no servercert.pem, a key of another certificate, an expired
    certificate, a chain out of order, a refused cipher list, a CA file
    without certificates, a CRL missing or past its next update."""
    swapped = read("server.key") + read("mx.pem")
    disordered = read("mx.key") + read("mx.pem") + read("ca.pem") + \
        read("intermediate.pem")
    cases = (
        ({"servercert.pem": None}, "servercert.pem", "missing: no TLS"),
        ({"servercert.pem": swapped}, "servercert.pem",
         "its private key does not belong to its first certificate"),
        ({"servercert.pem": read("expired-combined.pem")},
         "servercert.pem", "the certificate expired "),
        ({"servercert.pem": disordered}, "servercert.pem",
         "chain broken: /CN=mail.example.net is not issued by"),
        ({"tlsserverciphers": "NO-SUCH-CIPHER\n"}, "tlsserverciphers",
         "the list is refused"),
        ({"clientca.pem": "no certificates here\n"}, "clientca.pem",
         "holds no certificate"),
        ({"clientca.pem": read("ca.pem") + read("other-ca.pem")},
         "clientcrl.pem", "no CRL signed by /CN=starttls other test CA"),
        ({"clientcrl.pem": read("expiredcrl.pem")}, "clientcrl.pem",
         "past its next update"),
    )
    for change, path, text in cases:
        files = good_server_files()
        files.update(change)
        ctl = control({k: v for k, v in files.items() if v is not None})
        code, out = check_smtpd(ctl)
        expect_eq(code, 100, "exit for %s:\n%s" % (text, out))
        expect_line(out, path, "error", text)


@test
def check_server_warnings_exit_0():
    """Weak keys, SHA-1 signatures, a missing chain, a name a certificate
    does not cover, odd tlsclients lines and stray files are warnings."""
    weak = os.path.join(WORK, "weak")
    os.makedirs(weak, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024",
                    "-nodes", "-sha1", "-days", "30", "-subj",
                    "/CN=weak.example.net", "-keyout",
                    os.path.join(weak, "k"), "-out", os.path.join(weak, "c")],
                   check=True, capture_output=True, timeout=60)
    files = good_server_files()
    files.update({
        "servercert.pem": open(os.path.join(weak, "k")).read() +
        open(os.path.join(weak, "c")).read(),
        "servercerts/other.example.net.pem": read("mx.key") + read("mx.pem"),
        "servercerts/README": "notes\n",
        "tlsclients": "good@example.com\nGOOD@Example.com\nnot an address\n",
    })
    code, out = check_smtpd(control(files))
    expect_eq(code, 0, "exit:\n" + out)
    for path, text in (
            ("servercert.pem", "RSA 1024-bit key, belongs to the first "
             "certificate; weak"),
            ("servercerts/other.example.net.pem", "names mail.example.net, "
             "mx.example.net, not other.example.net"),
            ("servercerts/other.example.net.pem", "no chain"),
            ("servercerts/README", "ignored"),
            ("tlsclients", "line 2: GOOD@Example.com is listed twice"),
            ("tlsclients", 'line 3: "not an address" is not an e-mail')):
        expect_line(out, path, "warning", text)
    expect_not_in("SHA-1", out, "a self-signed root's own signature")
    # a leaf signed with SHA-1 by the test CA
    for argv in (["openssl", "req", "-new", "-key", "k", "-subj",
                  "/CN=weak.example.net", "-out", "csr"],
                 ["openssl", "x509", "-req", "-sha1", "-days", "30", "-in",
                  "csr", "-CA", cert("ca.pem"), "-CAkey", cert("ca.key"),
                  "-set_serial", "7", "-out", "leaf"]):
        subprocess.run(argv, cwd=weak, check=True, capture_output=True,
                       timeout=60)
    files["servercert.pem"] = open(os.path.join(weak, "k")).read() + \
        open(os.path.join(weak, "leaf")).read() + read("ca.pem")
    code, out = check_smtpd(control(files))
    expect_eq(code, 0, "exit:\n" + out)
    expect_line(out, "servercert.pem", "warning", "/CN=weak.example.net is "
                "signed with SHA-1")


@test
def check_as_unprivileged_user_says_unchecked():
    """Run as nobody, a servercert.pem readable only by root cannot be
    read: exit 111 ("could not check"), and the line says how to run it;
    nothing else is touched."""
    ctl = control(good_server_files())
    os.chmod(os.path.dirname(ctl), 0o755)
    os.chmod(ctl, 0o755)
    for f in os.listdir(ctl):
        os.chmod(os.path.join(ctl, f), 0o755 if f == "servercerts" else
                 0o644)
    os.chmod(os.path.join(ctl, "servercert.pem"), 0o600)
    os.chmod(os.path.join(ctl, "servercerts", "mail.example.net.pem"),
             0o644)
    if os.geteuid() != 0:
        return "skip"
    before = sorted(os.listdir(ctl))
    code, out = check_smtpd(ctl, user="nobody")
    expect_eq(code, 111, "exit:\n" + out)
    expect_line(out, "servercert.pem", "unchecked", "Permission denied")
    expect_line(out, "tlsclients", "ok", "2 addresses")
    expect_eq(sorted(os.listdir(ctl)), before, "control directory")


@test
def check_takes_tlsciphers_from_the_environment():
    code, out = check_smtpd(control(good_server_files()),
                            env={"TLSCIPHERS": "NOPE"})
    expect_eq(code, 100, "exit:\n" + out)
    expect_line(out, "tlsserverciphers", "error", "$TLSCIPHERS is refused")


@test
def check_remote_files():
    """starttls-remote -C: clientcert.pem, tlshosts/*.pem, exhaustivelist,
    notlshosts/, tlsclientciphers; a tlshosts file without certificates
    defers every delivery to that host, so it is an error."""
    ctl = control({
        "clientcert.pem": read("client-combined.pem"),
        "tlshosts/mx.example.net.pem": read("ca.pem"),
        "tlshosts/exhaustivelist": "",
        "tlshosts/stray": "",
        "notlshosts/mx.example.net": "",
        "notlshosts/old.example.org": "",
        "tlsclientciphers": "ECDHE+AESGCM\n",
    })
    code, out = check_remote(ctl)
    expect_eq(code, 0, "exit:\n" + out)
    for path, level, text in (
            ("clientcert.pem", "ok", "EC 256-bit key, belongs"),
            ("tlshosts/mx.example.net.pem", "ok",
             "/CN=starttls test CA expires in"),
            ("tlshosts/exhaustivelist", "ok", "only hosts with a"),
            ("tlshosts/stray", "warning", "ignored"),
            ("notlshosts/mx.example.net", "warning",
             "tlshosts/mx.example.net.pem wins"),
            ("notlshosts/old.example.org", "ok", "no STARTTLS to"),
            ("tlsclientciphers", "ok", "is accepted")):
        expect_line(out, path, level, text)
    with open(os.path.join(ctl, "tlshosts", "bad.example.net.pem"), "w") as f:
        f.write("not a certificate\n")
    with open(os.path.join(ctl, "clientcert.pem"), "w") as f:
        f.write(read("client.pem"))
    code, out = check_remote(ctl)
    expect_eq(code, 100, "exit:\n" + out)
    expect_line(out, "tlshosts/bad.example.net.pem", "error",
                "holds no certificate")
    expect_line(out, "clientcert.pem", "error", "holds no private key")
    shutil.rmtree(os.path.dirname(ctl))


@test
def check_remote_dane():
    """starttls-remote -C says whether DANE can apply, and which resolver
    it asked: a warning (DANE would never apply) with one elsewhere that
    resolv.conf does not trust, off with control/nodane."""
    ctl = control({})
    with open("/etc/resolv.conf") as f:
        trusted = "trust-ad" in f.read()
    if not trusted:
        code, out = check_remote(ctl, {"DNSCACHEIP": "192.0.2.53"})
        expect_eq(code, 0, "exit:\n" + out)
        expect_line(out, "nodane", "warning", "DANE never applies: the "
                    "resolver 192.0.2.53 (from $DNSCACHEIP) is not on this "
                    "host")
    # glibc reads resolv.conf's options from $RES_OPTIONS too: trusted,
    # it is asked, and here it does not answer
    code, out = check_remote(ctl, {"DNSCACHEIP": "192.0.2.53",
                                   "RES_OPTIONS": "trust-ad timeout:1 "
                                   "attempts:1"})
    expect_line(out, "nodane", "warning", "the resolver 192.0.2.53 (from "
                "$DNSCACHEIP) did not answer for the root zone")
    with open(os.path.join(ctl, "nodane"), "w"):
        pass
    code, out = check_remote(ctl, {"DNSCACHEIP": "192.0.2.53"})
    expect_line(out, "nodane", "ok", "DANE is off")
    expect_eq(code, 0, "exit:\n" + out)


@test
def check_remote_resolver_validates():
    """-C asks the resolver for the root zone and says whether it
    validates: a validating unbound (the root's key its trust anchor)
    sets the AD bit, so DANE is on; a dnsmasq that forwards to it and
    does not validate clears it: a warning, DANE never applies."""
    ctl = control({})
    with Resolver({".": ""}, signed=["."]) as r:
        code, out = check_remote(ctl, r.env)
        expect_eq(code, 0, "exit:\n" + out)
        expect_line(out, "nodane", "ok", "DANE is on: the resolver "
                    "127.0.0.1#%d (from $DNSCACHEIP) validates" % r.port)
        with Dnsmasq(["--server=127.0.0.1#%d" % r.port]) as d:
            expect_eq(query(d.port, ".", "SOA").rcode_name, "NOERROR",
                      "dnsmasq's answer")
            code, out = check_remote(ctl, d.env)
    expect_eq(code, 0, "exit:\n" + out)
    expect_line(out, "nodane", "warning", "DANE never applies: the "
                "resolver 127.0.0.1#%d (from $DNSCACHEIP) does not "
                "validate" % d.port)


@test
def check_remote_mta_sts():
    """starttls-remote -C on MTA-STS: no cache directory is a warning
    (every delivery would fetch), a CA bundle is counted, a missing one
    is an error; control/nomtasts turns it all off."""
    ctl = control({"mtastscafile": cert("ca.pem") + "\n"})
    code, out = check_remote(ctl)
    expect_line(out, "mtastsdir", "warning", "MTA-STS policies are fetched "
                "for every delivery")
    expect_line(out, "mtastscafile", "ok", "1 CA certificates")
    expect_eq(code, 0, "exit:\n" + out)
    os.makedirs(os.path.join(os.path.dirname(ctl), "queue", "mta-sts"))
    code, out = check_remote(ctl)
    expect_line(out, "mtastsdir", "ok", "MTA-STS policies are cached in")
    with open(os.path.join(ctl, "mtastscafile"), "w") as f:
        f.write(os.path.join(WORK, "no-such-bundle.pem") + "\n")
    code, out = check_remote(ctl)
    expect_eq(code, 100, "exit:\n" + out)
    expect_line(out, "mtastscafile", "error", "no-such-bundle.pem: No such")
    with open(os.path.join(ctl, "nomtasts"), "w"):
        pass
    code, out = check_remote(ctl)
    expect_eq(code, 0, "exit:\n" + out)
    expect_line(out, "nomtasts", "ok", "MTA-STS is off")


STOCK_RC = ('#!/bin/sh\n'
            '# Using qmail-local to deliver messages to ~/Mailbox by default.'
            '\n\nexec env - PATH="/var/qmail/bin:$PATH" \\\n'
            'qmail-start ./Mailbox splogger qmail\n')


@test
def check_remote_environment_of_deliveries():
    """-C checks DANE with its own environment; qmail's rc may start
    qmail-start through "env -", which drops $DNSCACHEIP: then -C says
    so, with the line that works; where rc gives a value -C did not
    have, it says how to run it; the same value is ok."""
    ctl = control({})
    rc = os.path.join(os.path.dirname(ctl), "rc")
    env = {"DNSCACHEIP": "192.0.2.53"}
    code, out = check_remote(ctl, env)
    expect_not_in("/rc: ", out, "no rc, nothing said")
    with open(rc, "w") as f:
        f.write(STOCK_RC)
    code, out = check_remote(ctl, env)
    expect_eq(code, 0, "exit:\n" + out)
    expect_in("\n%s: warning: " % rc, "\n" + out, "the path of rc")
    expect_line(out, "rc", "warning", "env -, which drops $DNSCACHEIP: "
                "this check asked 192.0.2.53, deliveries ask the resolvers "
                "of /etc/resolv.conf; the line that works: exec env - "
                'DNSCACHEIP=192.0.2.53 PATH="/var/qmail/bin:$PATH" '
                "qmail-start ./Mailbox splogger qmail")
    code, out = check_remote(ctl)
    expect_not_in("/rc: ", out, "neither has it")
    with open(rc, "w") as f:
        f.write(STOCK_RC.replace("env - ", "env - DNSCACHEIP=192.0.2.53 "))
    code, out = check_remote(ctl)
    expect_line(out, "rc", "warning", "qmail-start gets "
                "DNSCACHEIP=192.0.2.53, but this check had no $DNSCACHEIP: "
                "run it with DNSCACHEIP=192.0.2.53")
    code, out = check_remote(ctl, env)
    expect_line(out, "rc", "ok", "qmail-start gets DNSCACHEIP=192.0.2.53, "
                "as this check had it")
    expect_not_in("/rc: warning", out, "the same resolver")
    # without "env -", qmail-start inherits rc's environment: no verdict
    with open(rc, "w") as f:
        f.write(STOCK_RC.replace("env - ", "env "))
    code, out = check_remote(ctl, env)
    expect_not_in("/rc: ", out, "no env -")


def owned(ctl, name, mode, gid=0):
    path = os.path.join(ctl, name)
    os.chown(path, 0, gid)
    os.chmod(path, mode)


@test
def check_remote_readers():
    """Run as root, -C opens clientcert.pem and each tlshosts/*.pem as
    the user deliveries run as ($STARTTLS_QMAILR, here nobody): one it
    cannot read is an error (no client certificate is ever sent; the
    host's mail is deferred); a clientcert.pem every user can read is a
    warning; a user that does not exist leaves it unchecked."""
    if os.geteuid() != 0:
        return "skip"
    nogroup = pwd.getpwnam("nobody").pw_gid
    ctl = control({"clientcert.pem": read("client-combined.pem"),
                   "tlshosts/mx.example.net.pem": read("ca.pem")})
    owned(ctl, "clientcert.pem", 0o600)
    owned(ctl, "tlshosts/mx.example.net.pem", 0o600)
    code, out = check_remote(ctl)
    expect_eq(code, 100, "exit:\n" + out)
    expect_line(out, "clientcert.pem", "error", "nobody cannot read it "
                "(Permission denied): no client certificate is ever sent")
    expect_line(out, "tlshosts/mx.example.net.pem", "error", "nobody "
                "cannot read it (Permission denied): every delivery to "
                "that host is deferred")
    owned(ctl, "clientcert.pem", 0o640, nogroup)
    owned(ctl, "tlshosts/mx.example.net.pem", 0o644)
    code, out = check_remote(ctl)
    expect_eq(code, 0, "exit:\n" + out)
    expect_line(out, "clientcert.pem", "ok", "nobody can read it")
    expect_line(out, "tlshosts/mx.example.net.pem", "ok", "nobody can read")
    expect_not_in("every user can read", out, "root:nogroup 640")
    owned(ctl, "clientcert.pem", 0o644)
    code, out = check_remote(ctl)
    expect_line(out, "clientcert.pem", "warning", "every user can read it, "
                "and its private key")
    # the control directory on the way counts too
    os.chmod(ctl, 0o700)
    code, out = check_remote(ctl)
    expect_line(out, "clientcert.pem", "error", "nobody cannot read it")
    os.chmod(ctl, 0o755)
    code, out = check_remote(ctl, {"STARTTLS_QMAILR": "no-such-user"})
    expect_eq(code, 111, "exit:\n" + out)
    expect_in("/control: unchecked: no user no-such-user here", out, "-C")
