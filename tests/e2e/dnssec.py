"""DNSSEC for the DANE tests: a validating resolver (unbound) in front of
an authoritative server (nsd) with zones made and signed at test time.

    zones = {"dane.test": "@ MX 10 mx1\\nmx1 A 127.0.0.1\\n"
                          "_25._tcp.mx1 TLSA 3 1 1 " + tlsa_data(pem, 1, 1),
             "plain.test": "@ MX 10 mx1\\nmx1 A 127.0.0.1\\n",
             "bogus.test": "@ MX 10 mx1\\nmx1 A 127.0.0.1\\n"}
    with Resolver(zones, signed=["dane.test", "bogus.test"],
                  bogus=["bogus.test"]) as r:
        remote(home, ..., env=r.env)      # DNSCACHEIP=127.0.0.1#<port>

A signed zone has its key as a trust anchor in unbound, so its answers
are secure (AD=1, to a query with the DO or AD bit).  An unsigned zone is
insecure (AD=0): there is no root trust anchor.  A name in bogus is
signed with broken signatures, so unbound answers SERVFAIL: a whole zone
(all its RRSIGs but the DNSKEY's) or one owner name in a signed zone
("_25._tcp.mx2.dane.test", or "_25._tcp.mx2.dane.test/TLSA" for one type).

Each zone gets, from here, its SOA and "NS ns.<zone>" with "ns.<zone> A
127.0.0.1" (so leave the name ns to this).  The root zone "." may be one,
signed: then the resolver validates as one on the Internet does, with
the root's key as its trust anchor; keep it in a Resolver of its own
(nothing is delegated from it, so the other zones would be bogus).  A zone below another in
zones is delegated from it (with a DS when the child is signed: the
chain from the parent's anchor; without one, an insecure delegation).
Names outside the zones get NXDOMAIN from unbound itself (outside=
"refuse" for REFUSED): nothing is ever sent off this machine, and the
machine's own DNS configuration is neither read nor changed.

Everything is on 127.0.0.1, on free ports, in a directory under
lib.WORK; both daemons run in process groups of their own and are
killed by process group on exit.
"""
import atexit
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import time

import lib
from lib import WORK

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
         "TXT": 16, "AAAA": 28, "SRV": 33, "OPT": 41, "DS": 43,
         "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50, "TLSA": 52,
         "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}

_serial = [0]
_running = []


def _free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port on 127.0.0.1")


def _abs(name):
    return name.rstrip(".").lower() + "."


# --- TLSA --------------------------------------------------------------

def tlsa_data(pem, selector=1, mtype=1):
    """The TLSA certificate association data, as hex, for the (first)
    certificate in the PEM file pem: selector 0 the whole certificate,
    1 its SubjectPublicKeyInfo; matching type 0 the DER itself, 1 its
    SHA-256, 2 its SHA-512.  DER from openssl(1), hashes by hashlib."""
    der = subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"],
                         capture_output=True, check=True, timeout=30).stdout
    if selector == 1:
        pub = subprocess.run(["openssl", "x509", "-in", pem, "-noout",
                              "-pubkey"], capture_output=True, check=True,
                             timeout=30).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform",
                              "DER"], input=pub, capture_output=True,
                             check=True, timeout=30).stdout
    elif selector != 0:
        raise ValueError("selector %r" % selector)
    if mtype == 0:
        return der.hex()
    if mtype == 1:
        return hashlib.sha256(der).hexdigest()
    if mtype == 2:
        return hashlib.sha512(der).hexdigest()
    raise ValueError("matching type %r" % mtype)


def tlsa_rr(owner, pem, usage=3, selector=1, mtype=1):
    """A zone-file line: owner IN TLSA usage selector mtype data."""
    return "%s IN TLSA %d %d %d %s\n" % (owner, usage, selector, mtype,
                                         tlsa_data(pem, selector, mtype))


# --- a raw DNS client ----------------------------------------------------

def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(msg, off):
    labels = []
    jumped = False
    end = off
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    if not jumped:
        end = off
    return ".".join(labels) + ".", end


class RR:
    def __init__(self, name, rtype, ttl, rdata, text):
        self.name, self.type, self.ttl = name, rtype, ttl
        self.rdata = rdata          # raw bytes
        self.text = text            # presentation form, for known types

    def __repr__(self):
        return "%s %d %s %s" % (self.name, self.ttl,
                                TYPE_NAMES.get(self.type, self.type),
                                self.text)


class Reply:
    """A parsed DNS reply: rcode (int), rcode_name, the header bits qr aa
    tc rd ra ad cd, do (the DO bit in its OPT), answer, authority and
    additional (lists of RR, OPT left out), raw (the bytes)."""

    def __init__(self, msg):
        self.raw = msg
        (self.id, fl, qd, an, ns, ar) = struct.unpack(">HHHHHH", msg[:12])
        self.flags = fl
        for bit, name in ((15, "qr"), (10, "aa"), (9, "tc"), (8, "rd"),
                          (7, "ra"), (5, "ad"), (4, "cd")):
            setattr(self, name, bool(fl >> bit & 1))
        self.rcode = fl & 0xF
        self.do = False
        off = 12
        for _ in range(qd):
            _, off = _read_name(msg, off)
            off += 4
        self.answer, self.authority, self.additional = [], [], []
        for section, count in ((self.answer, an), (self.authority, ns),
                               (self.additional, ar)):
            for _ in range(count):
                name, off = _read_name(msg, off)
                rtype, rclass, ttl, rdlen = struct.unpack(
                    ">HHIH", msg[off:off + 10])
                off += 10
                rdata = msg[off:off + rdlen]
                if rtype == TYPES["OPT"]:
                    self.rcode |= (ttl >> 24) << 4
                    self.do = bool(ttl & 0x8000)
                else:
                    section.append(RR(name, rtype, ttl, rdata,
                                      _rdata_text(msg, off, rtype, rdata)))
                off += rdlen

    @property
    def rcode_name(self):
        return RCODES.get(self.rcode, str(self.rcode))

    def records(self, rtype):
        """The answer section's records of a type, as presentation text."""
        t = TYPES[rtype] if isinstance(rtype, str) else rtype
        return [rr.text for rr in self.answer if rr.type == t]

    def __repr__(self):
        bits = " ".join(b for b in ("qr", "aa", "tc", "rd", "ra", "ad", "cd")
                        if getattr(self, b))
        return "<%s flags: %s%s; answer %r>" % (
            self.rcode_name, bits, " do" if self.do else "", self.answer)


def _rdata_text(msg, off, rtype, rdata):
    try:
        if rtype == 1:
            return socket.inet_ntop(socket.AF_INET, rdata)
        if rtype == 28:
            return socket.inet_ntop(socket.AF_INET6, rdata)
        if rtype in (2, 5, 12):
            return _read_name(msg, off)[0]
        if rtype == 15:
            return "%d %s" % (struct.unpack(">H", rdata[:2])[0],
                              _read_name(msg, off + 2)[0])
        if rtype == 52:
            return "%d %d %d %s" % (rdata[0], rdata[1], rdata[2],
                                    rdata[3:].hex())
        if rtype == 46:
            return "%s ..." % TYPE_NAMES.get(struct.unpack(
                ">H", rdata[:2])[0], "?")
    except (IndexError, struct.error, ValueError):
        pass
    return rdata.hex()


def query(port, name, rtype="A", do=True, ad=False, cd=False, rd=True,
          edns=True, tcp=False, host="127.0.0.1", timeout=3.0):
    """Ask the DNS server at host#port one question, by UDP (tcp=True:
    TCP) and return its Reply.  edns: an OPT record (payload 1232) with
    the DO bit if do; ad, cd, rd: those header bits.  Raises OSError
    (socket.timeout) when no reply comes in time."""
    qid = random.randrange(65536)
    fl = (0x0100 if rd else 0) | (0x0020 if ad else 0) | \
        (0x0010 if cd else 0)
    t = TYPES[rtype] if isinstance(rtype, str) else rtype
    msg = struct.pack(">HHHHHH", qid, fl, 1, 0, 0, 1 if edns else 0) + \
        _encode_name(name) + struct.pack(">HH", t, 1)
    if edns:
        msg += b"\0" + struct.pack(">HHIH", 41, 1232,
                                   0x8000 if do else 0, 0)
    if tcp:
        s = socket.create_connection((host, port), timeout=timeout)
        try:
            s.sendall(struct.pack(">H", len(msg)) + msg)
            buf = b""
            deadline = time.time() + timeout
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(
                    ">H", buf[:2])[0]:
                s.settimeout(max(0.01, deadline - time.time()))
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("DNS server closed the connection")
                buf += chunk
            reply = buf[2:]
        finally:
            s.close()
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(timeout)
            s.sendto(msg, (host, port))
            deadline = time.time() + timeout
            while True:
                s.settimeout(max(0.01, deadline - time.time()))
                reply, _ = s.recvfrom(65536)
                if reply[:2] == msg[:2]:
                    break
        finally:
            s.close()
    return Reply(reply)


# --- the zones -----------------------------------------------------------

def _run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (
            " ".join(argv), p.returncode,
            (p.stdout + p.stderr).decode(errors="replace")))
    return p.stdout.decode()


def _corrupt(signed_text, zone, names, whole):
    """Break the signatures (flip one character of the base64) of the
    RRSIGs at the owner names, or "name/TYPE" for the ones covering a
    type; whole: of every RRSIG but the DNSKEY's."""
    targets = set()
    for n in names:
        owner, _, t = n.partition("/")
        targets.add((_abs(owner), t.upper() or None))
    out = []
    hit = 0
    for line in signed_text.splitlines():
        f = line.split()
        if len(f) > 5 and f[3] == "RRSIG" and not line.startswith(";"):
            owner, covered = f[0].lower(), f[4].upper()
            if (whole and covered != "DNSKEY") or (owner, None) in targets \
                    or (owner, covered) in targets:
                sig = f[-1]
                c = "A" if sig[10] != "A" else "B"
                f[-1] = sig[:10] + c + sig[11:]
                line = "\t".join(f)
                hit += 1
        out.append(line)
    if not hit:
        raise ValueError("bogus %r: no signature found in %s to break" % (
            sorted(names), zone))
    return "\n".join(out) + "\n"


class Resolver:
    """nsd serving zones (name -> records in zone-file syntax, names
    relative to the zone or absolute), unbound validating in front.

    signed: the zones to sign, each a trust anchor in unbound, unless it
    is below another signed zone (then it is reached by the DS there).
    bogus: zones, or owner names ("name" or "name/TYPE") in signed zones,
    whose signatures are broken.  outside: unbound's answer for names in
    no zone: "static" NXDOMAIN, "refuse" REFUSED.  nsec3: sign with NSEC3
    (no salt, 0 iterations) instead of NSEC.

    After __enter__: port (unbound), nsd_port, env ({"DNSCACHEIP":
    "127.0.0.1#port"}), dir, ds (zone -> its DS record line), query()."""

    def __init__(self, zones, signed=(), bogus=(), outside="static",
                 nsec3=False, ttl=300):
        _serial[0] += 1
        self.dir = os.path.join(WORK, "dnssec%03d" % _serial[0])
        os.makedirs(self.dir)
        self.zones = {_abs(z): text for z, text in zones.items()}
        self.signed = {_abs(z) for z in signed}
        for z in self.signed:
            if z not in self.zones:
                raise ValueError("signed zone %s not in zones" % z)
        self.outside = outside
        self.nsec3 = nsec3
        self.ttl = ttl
        self.bogus_zones = set()
        self.bogus_names = {}       # zone -> ["name[/TYPE]"]
        for b in bogus:
            if _abs(b) in self.zones:
                self.bogus_zones.add(_abs(b))
                continue
            owner = _abs(b.partition("/")[0])
            zone = self._zone_of(owner)
            if zone is None:
                raise ValueError("bogus %s is in no zone" % b)
            self.bogus_names.setdefault(zone, []).append(b)
        for z in self.bogus_zones | set(self.bogus_names):
            if z not in self.signed:
                raise ValueError("bogus zone %s is not signed" % z)
        self.port = None
        self.nsd_port = None
        self.env = {}
        self.ds = {}
        self.anchors = []
        self.procs = []

    def _zone_of(self, name):
        best = None
        for z in self.zones:
            if (name == z or z == "." or name.endswith("." + z)) and \
                    (best is None or len(z) > len(best)):
                best = z
        return best

    def _parent(self, zone):
        """The zone above zone (the root too, when it is served)."""
        if zone == ".":
            return None
        return self._zone_of(zone.split(".", 1)[1] or ".")

    def _make_zones(self):
        files = {}
        extra = {z: "" for z in self.zones}
        # the deepest first: a parent needs its children's DS records
        for z in sorted(self.zones, key=lambda z: -z.count(".")):
            sub = z if z != "." else ""     # the root's ns is "ns."
            text = ("$ORIGIN %s\n$TTL %d\n"
                    "@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 %d\n"
                    "@ IN NS ns.%s\nns.%s IN A 127.0.0.1\n"
                    % (z, self.ttl, sub, sub, self.ttl, sub, sub)) + \
                extra[z] + "$ORIGIN %s\n" % z + self.zones[z] + "\n"
            base = z.rstrip(".") or "root"
            path = os.path.join(self.dir, base + ".zone")
            with open(path, "w") as f:
                f.write(text)
            # a mistake in the records: said here, not by nsd's log
            _run(["nsd-checkzone", z, path], self.dir)
            parent = self._parent(z)
            if z in self.signed:
                key = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k",
                            z.rstrip(".") or "."], self.dir).strip()
                argv = ["ldns-signzone", "-o", z, "-f", path + ".signed"]
                if self.nsec3:
                    argv += ["-n", "-t", "0"]
                _run(argv + [path, key], self.dir)
                with open(path + ".signed") as f:
                    stext = f.read()
                if z in self.bogus_zones or z in self.bogus_names:
                    stext = _corrupt(stext, z, self.bogus_names.get(z, ()),
                                     z in self.bogus_zones)
                    with open(path + ".signed", "w") as f:
                        f.write(stext)
                ds = _run(["ldns-key2ds", "-n", "-2", key + ".key"],
                          self.dir).strip()
                self.ds[z] = ds
                if parent in self.signed:
                    extra[parent] += ds + "\n"
                else:
                    self.anchors.append(ds)
                path += ".signed"
            if parent:
                extra[parent] += "%s IN NS ns.%s\nns.%s IN A 127.0.0.1\n" % (
                    z, z, z)
            files[z] = path
        return files

    def _start(self, name, argv, log):
        with open(log, "ab") as out:
            p = subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        p.name = name
        p.logpath = log
        self.procs.append(p)
        return p

    def log(self):
        """Both daemons' logs so far, for a failure message."""
        return "".join("--- %s\n%s" % (os.path.basename(f), lib.read_log(
            os.path.join(self.dir, f))) for f in ("nsd.stderr", "nsd.log",
                                                   "unbound.log"))

    def _wait(self, p, ask, what, timeout=15.0):
        end = time.time() + timeout
        while True:
            if p.poll() is not None:
                self._stop()
                raise RuntimeError("%s exited %d while starting: %s" % (
                    p.name, p.returncode, lib.read_log(p.logpath)[-3000:]))
            try:
                if ask():
                    return
            except OSError:
                pass
            if time.time() > end:
                self._stop()
                raise RuntimeError("%s did not answer %s in %.0f s: %s" % (
                    p.name, what, timeout, lib.read_log(p.logpath)[-3000:]))
            time.sleep(0.05)

    def __enter__(self):
        t0 = time.time()
        _running.append(self)
        try:
            files = self._make_zones()
            self._start_nsd(files)
            self._start_unbound()
        except BaseException:
            self._stop()
            raise
        self.startup = time.time() - t0
        return self

    def _start_nsd(self, files):
        self.nsd_port = _free_port()
        d = self.dir
        conf = os.path.join(d, "nsd.conf")
        with open(conf, "w") as f:
            f.write("""server:
    ip-address: 127.0.0.1
    port: %d
    do-ip4: yes
    do-ip6: no
    reuseport: no
    server-count: 1
    username: ""
    chroot: ""
    database: ""
    zonesdir: "%s"
    zonelistfile: "%s/zone.list"
    xfrdfile: "%s/xfrd.state"
    xfrdir: "%s"
    pidfile: "%s/nsd.pid"
    logfile: "%s/nsd.log"
    verbosity: 1
    hide-version: yes
    identity: "test"
    zonefiles-check: no
    zonefiles-write: 0
remote-control:
    control-enable: no
""" % (self.nsd_port, d, d, d, d, d, d))
            for z, path in files.items():
                f.write('zone:\n    name: "%s"\n    zonefile: "%s"\n'
                        % (z, path))
        p = self._start("nsd", ["nsd", "-d", "-c", conf],
                        os.path.join(d, "nsd.stderr"))

        def ask():
            for z in files:
                r = query(self.nsd_port, z, "SOA", rd=False, timeout=0.3)
                if r.rcode != 0 or not r.aa:
                    return False
            return True
        try:
            self._wait(p, ask, "for every zone's SOA")
        except RuntimeError as e:
            raise RuntimeError("%s\n%s" % (e, lib.read_log(
                os.path.join(d, "nsd.log"))[-3000:]))

    def _start_unbound(self):
        self.port = _free_port()
        d = self.dir
        lines = ["server:",
                 "interface: 127.0.0.1", "port: %d" % self.port,
                 "outgoing-interface: 127.0.0.1",
                 "do-ip4: yes", "do-ip6: no", "do-udp: yes", "do-tcp: yes",
                 "num-threads: 1", "so-reuseport: no",
                 'username: ""', 'chroot: ""', 'directory: "%s"' % d,
                 'pidfile: "%s/unbound.pid"' % d,
                 'logfile: ""', "use-syslog: no", "log-time-ascii: yes",
                 "verbosity: 1", "log-servfail: yes", "val-log-level: 2",
                 "access-control: 127.0.0.0/8 allow",
                 'module-config: "validator iterator"',
                 "do-not-query-localhost: no",
                 "qname-minimisation: no", "prefetch: no",
                 "minimal-responses: no", "trust-anchor-signaling: no",
                 "root-key-sentinel: no"]
        if "." not in self.zones:
            lines.append('local-zone: "." %s' % self.outside)
        for z in self.zones:
            lines.append('local-zone: "%s" transparent' % z)
        for a in self.anchors:
            lines.append('trust-anchor: "%s"' % a)
        lines += ["remote-control:", "control-enable: no"]
        for z in self.zones:
            lines += ["stub-zone:", 'name: "%s"' % z,
                      "stub-addr: 127.0.0.1@%d" % self.nsd_port,
                      "stub-prime: no"]
        conf = os.path.join(d, "unbound.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = self._start("unbound", ["unbound", "-d", "-c", conf],
                        os.path.join(d, "unbound.log"))
        # a name unbound answers itself: nothing is asked of nsd (or
        # cached) before the tests ask
        self._wait(p, lambda: query(self.port, "localhost", "A",
                                    timeout=0.3).rcode == 0,
                   "for localhost")
        self.env = {"DNSCACHEIP": "127.0.0.1#%d" % self.port}

    def query(self, name, rtype="A", **kw):
        """query() to this unbound (DO bit set unless do=False)."""
        return query(self.port, name, rtype, **kw)

    def _stop(self):
        while self.procs:
            p = self.procs.pop()
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(5)
            # nsd's own children (its main and server processes) share
            # its group; they may outlive it for a moment
            if _group_alive(p.pid):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                lib.wait_for(lambda: not _group_alive(p.pid), 5)
        if self in _running:
            _running.remove(self)

    def __exit__(self, *a):
        self._stop()


def _group_alive(pgid):
    """The processes of a process group that are not zombies (an orphan
    whose parent died first waits for init to reap it)."""
    return [pid for pid, state, _, group in lib.processes()
            if group == pgid and state != "Z"]


@atexit.register
def _stop_all():
    for r in list(_running):
        r._stop()


# --- the check of all this -----------------------------------------------

def check(verbose=True):
    """Start a Resolver with secure, insecure and bogus zones and check
    what unbound answers, by raw queries over UDP (and one over TCP).
    Raises AssertionError on a wrong answer."""
    lib.make_certs()
    pem = lib.cert("server.pem")
    zones = {
        "dane.test": "@ MX 10 mx1\nmx1 A 127.0.0.1\nmx1 AAAA ::1\n" +
                     tlsa_rr("_25._tcp.mx1", pem, 3, 1, 1) +
                     tlsa_rr("_25._tcp.mx2", pem, 3, 0, 0) +
                     "mx2 A 127.0.0.1\n"
                     "alias CNAME mx1\n"
                     "out CNAME mx1.plain.test.\n"
                     "_25._tcp.broken IN TLSA 3 1 1 " + "00" * 32 + "\n",
        "sec.dane.test": "@ MX 10 mx\nmx A 127.0.0.1\n",
        "sub.dane.test": "@ MX 10 mx\nmx A 127.0.0.1\n",
        "plain.test": "@ MX 10 mx1\nmx1 A 127.0.0.1\n" +
                      tlsa_rr("_25._tcp.mx1", pem),
        "bogus.test": "@ MX 10 mx1\nmx1 A 127.0.0.1\n" +
                      tlsa_rr("_25._tcp.mx1", pem),
    }
    t0 = time.time()
    with Resolver(zones, signed=["dane.test", "sec.dane.test",
                                 "bogus.test"],
                  bogus=["bogus.test", "_25._tcp.broken.dane.test"]) as r:
        up = time.time() - t0

        def ask(name, rtype, want_rcode, want_ad, **kw):
            a = r.query(name, rtype, **kw)
            if verbose:
                print("%-28s %-5s %-30s -> %r" % (name, rtype, kw or "",
                                                  a))
            assert a.rcode_name == want_rcode, (name, rtype, a, r.log())
            assert a.ad == want_ad, (name, rtype, a, r.log())
            return a

        a = ask("dane.test", "MX", "NOERROR", True)
        assert a.records("MX") == ["10 mx1.dane.test."], a
        a = ask("_25._tcp.mx1.dane.test", "TLSA", "NOERROR", True)
        assert a.records("TLSA") == ["3 1 1 " + tlsa_data(pem, 1, 1)], a
        a = ask("_25._tcp.mx2.dane.test", "TLSA", "NOERROR", True)
        assert a.records("TLSA") == ["3 0 0 " + tlsa_data(pem, 0, 0)], a
        ask("_25._tcp.mx2.dane.test", "TLSA", "NOERROR", True, tcp=True)
        ask("mx1.dane.test", "A", "NOERROR", True)
        ask("mx1.dane.test", "AAAA", "NOERROR", True)
        a = ask("mx2.dane.test", "AAAA", "NOERROR", True)       # NODATA
        assert not a.answer, a
        a = ask("_25._tcp.mx9.dane.test", "TLSA", "NXDOMAIN", True)
        a = ask("alias.dane.test", "A", "NOERROR", True)
        assert a.records("A") == ["127.0.0.1"], a
        # a secure CNAME to an insecure zone: insecure
        ask("out.dane.test", "A", "NOERROR", False)
        ask("_25._tcp.broken.dane.test", "TLSA", "SERVFAIL", False)
        ask("mx2.dane.test", "A", "NOERROR", True)  # its zone is still fine
        # the DS chain to a signed child, and an insecure delegation
        ask("sec.dane.test", "MX", "NOERROR", True)
        ask("mx.sec.dane.test", "A", "NOERROR", True)
        ask("sub.dane.test", "MX", "NOERROR", False)
        ask("nothing.sub.dane.test", "A", "NXDOMAIN", False)
        # insecure
        ask("plain.test", "MX", "NOERROR", False)
        ask("_25._tcp.mx1.plain.test", "TLSA", "NOERROR", False)
        ask("nothing.plain.test", "A", "NXDOMAIN", False)
        # bogus: SERVFAIL, unless checking is disabled (CD)
        ask("bogus.test", "MX", "SERVFAIL", False)
        ask("_25._tcp.mx1.bogus.test", "TLSA", "SERVFAIL", False)
        ask("nothing.bogus.test", "A", "SERVFAIL", False)
        a = ask("_25._tcp.mx1.bogus.test", "TLSA", "NOERROR", False, cd=True)
        assert a.records("TLSA"), a
        # AD needs DO (or AD) in the query
        ask("dane.test", "MX", "NOERROR", False, do=False)
        ask("dane.test", "MX", "NOERROR", False, edns=False)
        ask("dane.test", "MX", "NOERROR", True, do=False, ad=True)
        ask("dane.test", "MX", "NOERROR", True, edns=False, ad=True)
        # outside the zones: answered at once, nothing sent anywhere
        t = time.time()
        ask("example.com", "MX", "NXDOMAIN", False)
        ask("other.test", "A", "NXDOMAIN", False)
        assert time.time() - t < 1, "outside names are slow"
        # the TLSA data against openssl's own digests
        for sel, opt in ((0, []), (1, ["-pubkey"])):
            der = subprocess.run(
                "openssl x509 -in %s -noout %s | openssl pkey -pubin "
                "-outform DER | openssl dgst -sha256 -binary" % (pem, opt[0])
                if opt else "openssl x509 -in %s -outform DER | openssl dgst"
                " -sha512 -binary" % pem, shell=True, capture_output=True,
                check=True).stdout.hex()
            assert der == tlsa_data(pem, sel, 1 if sel else 2), sel
        if verbose:
            print("start-up %.2f s (unbound port %d, nsd port %d), checks "
                  "%.2f s" % (r.startup, r.port, r.nsd_port,
                              time.time() - t0 - up))
        pids = [p.pid for p in r.procs]
    for pid in pids:
        assert not _group_alive(pid), "process group %d still there" % pid
    return up


def selfcheck(verbose=True, cleanup=True):
    """check(), then remove lib.WORK (cleanup=False from within the
    suite, where tests/run.py removes it at the end)."""
    try:
        check(verbose)
        if verbose:
            print("dnssec: all checks passed")
    finally:
        if cleanup:
            lib.cleanup()


if __name__ == "__main__":
    selfcheck()
