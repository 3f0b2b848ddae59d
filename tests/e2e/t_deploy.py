"""The ACME deploy hook that starttls(7) gives: that script, run as certbot
or by hand would run it, installs an ECDSA key and chain that sessions then
present, and leaves the old file alone when the new one fails the check.
"""
import os
import pwd
import re
import stat

from lib import (collector, Server, cert, expect, expect_eq, expect_in,
                 run, BUILD, TOP, WORK)
from t_sni import presented

TESTS, test = collector()

_serial = [0]


def manual_hook():
    with open(os.path.join(TOP, "man", "starttls.7")) as f:
        m = re.search(r'\.\\" deploy hook[^\n]*\n\.Bd -literal[^\n]*\n'
                      r"(.*?)\.Ed\n", f.read(), re.S)
    expect(m is not None, "starttls.7 has no deploy hook block")
    return m.group(1)


def hook_file():
    """The manual's hook, written out as an administrator would save it."""
    path = os.path.join(WORK, "starttls-deploy")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(manual_hook())
        os.chmod(path, 0o755)
    return path


def session_ids():
    """OWNER and GROUP as a site gives them: root and the sessions' group
    (tcpserver -g) when the suite runs as root, else the caller."""
    if os.geteuid() == 0:
        return "root", str(pwd.getpwnam("nobody").pw_gid)
    return str(os.getuid()), str(os.getgid())


def deploy(control, args=(), **env):
    """Run the hook on control with env added; (exit, stderr)."""
    owner, group = session_ids()
    e = {k: v for k, v in os.environ.items()
         if k not in ("KEY", "FULLCHAIN", "RENEWED_LINEAGE")}
    e.update(PATH=BUILD + ":" + e.get("PATH", "/usr/bin:/bin"),
             CONTROL=control, OWNER=owner, GROUP=group)
    e.update(env)
    p = run(["/bin/sh", hook_file()] + list(args), env=e, timeout=30)
    return p.returncode, p.stderr.decode(errors="replace")


def lineage(key, chain):
    """A certbot live directory: privkey.pem and fullchain.pem."""
    _serial[0] += 1
    d = os.path.join(WORK, "live%03d" % _serial[0])
    os.makedirs(d)
    for name, src in (("privkey.pem", key), ("fullchain.pem", chain)):
        with open(cert(src)) as f, open(os.path.join(d, name), "w") as g:
            g.write(f.read())
    return d


def leftovers(control):
    return [n for n in os.listdir(control) if n.startswith(".deploy.")]


@test
def deploy_hook_in_one_place():
    """The script is given once, in starttls(7), so the copy tested here is
    the one every reader takes; README.md and the other pages point to it."""
    first = manual_hook().splitlines()[1]
    docs = ["README.md"] + ["man/" + f for f in
                            sorted(os.listdir(os.path.join(TOP, "man")))]
    holders = []
    for doc in docs:
        with open(os.path.join(TOP, doc)) as f:
            holders += [doc] * f.read().count(first)
    expect_eq(holders, ["man/starttls.7"], "the documents with the hook")


@test
def deploy_hook_installs_ecdsa_certificate():
    """certbot's way (RENEWED_LINEAGE, an ECDSA key, the full chain): the
    new servercert.pem has mode 640 and the sessions' group, no temporary
    file stays, and the next session presents the new certificate."""
    srv = Server()
    with srv:
        expect_eq(presented(srv, None), "CN=localhost", "before")
        code, err = deploy(srv.control,
                           RENEWED_LINEAGE=lineage("mx.key",
                                                   "mx-fullchain.pem"))
        expect_eq(code, 0, "deploy: " + err)
        path = os.path.join(srv.control, "servercert.pem")
        st = os.stat(path)
        expect_eq(stat.S_IMODE(st.st_mode), 0o640, "mode")
        expect_eq(str(st.st_gid), session_ids()[1], "group")
        expect_eq(leftovers(srv.control), [], "temporary files")
        text = open(path).read()
        expect_in("-----BEGIN PRIVATE KEY-----", text, "key")
        expect_eq(text.count("BEGIN CERTIFICATE"), 2, "leaf and chain")
        expect_eq(presented(srv, None), "CN=mail.example.net", "after")


@test
def deploy_hook_installs_named_certificate():
    """With servercerts/<name>.pem as its argument and KEY/FULLCHAIN named
    (dehydrated, acme-client, lego): that file is made, servercert.pem is
    untouched, and the name gets the new certificate."""
    srv = Server()
    before = open(os.path.join(srv.control, "servercert.pem")).read()
    with srv:
        code, err = deploy(srv.control, ["servercerts/mail.example.net.pem"],
                           KEY=cert("mx.key"),
                           FULLCHAIN=cert("mx-fullchain.pem"))
        expect_eq(code, 0, "deploy: " + err)
        named = os.path.join(srv.control, "servercerts",
                             "mail.example.net.pem")
        expect_eq(stat.S_IMODE(os.stat(named).st_mode), 0o640, "mode")
        expect_eq(open(os.path.join(srv.control, "servercert.pem")).read(),
                  before, "servercert.pem")
        expect_eq(leftovers(srv.control), [], "temporary files")
        expect_eq(presented(srv, "mail.example.net"), "CN=mail.example.net",
                  "named")
        expect_eq(presented(srv, None), "CN=localhost", "default")


@test
def deploy_hook_refuses_broken_certificate():
    """A key that is not the certificate's, a missing key file, or a file
    name that leads out of servercerts/: the hook fails, says why, and
    servercert.pem stays byte for byte; sessions go on with it."""
    srv = Server()
    path = os.path.join(srv.control, "servercert.pem")
    before = open(path, "rb").read()
    with srv:
        code, err = deploy(srv.control, KEY=cert("server.key"),
                           FULLCHAIN=cert("mx-fullchain.pem"))
        expect_eq(code, 100, "wrong key: " + err)
        expect_in("servercert.pem: error: ", err, "the check's finding")
        expect_in("left as it was", err, "says nothing changed")
        code, err = deploy(srv.control, KEY=os.path.join(WORK, "nokey.pem"),
                           FULLCHAIN=cert("mx-fullchain.pem"))
        expect(code != 0, "missing key file: exit 0")
        for bad in ("servercerts/../servercert.pem", "servercerts/a/b.pem",
                    "servercerts/.hidden.pem", "clientca.pem"):
            code, err = deploy(srv.control, [bad], KEY=cert("mx.key"),
                               FULLCHAIN=cert("mx-fullchain.pem"))
            expect_eq(code, 100, bad + ": " + err)
            expect_in("usage:", err, bad)
        code, err = deploy(srv.control)
        expect(code != 0 and "KEY" in err, "no files named: " + err)
        expect_eq(open(path, "rb").read(), before, "servercert.pem")
        expect_eq(leftovers(srv.control), [], "temporary files")
        expect(not os.path.exists(os.path.join(srv.control, "servercerts")),
               "servercerts/ made for a refused name")
        expect_eq(presented(srv, None), "CN=localhost", "sessions go on")
