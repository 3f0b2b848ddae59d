#!/usr/bin/python3
"""An SMTP server that misbehaves on purpose, for tests of starttls-smtpd.

It stands where qmail-smtpd would (stdin/stdout), answers like it, and
records its input to $STANDIN_RECORD/<pid>.in.  Options pick the oddity:

  --greeting TEXT     greet with TEXT instead of "220 odd.example ESMTP"
  --starttls          advertise STARTTLS in the EHLO reply itself
  --split             write every reply one byte at a time, with pauses
  --delay SEC         wait SEC before each reply
  --hugereply N       answer NOOP with an N-byte reply line
  --silent            never answer anything after the greeting
  --exit-after N      exit (status 3) after reading N commands
  --crash-after N     die by SIGKILL after reading N commands
"""
import os
import signal  # noqa: F401 (SIGKILL is 9 everywhere we run)
import sys
import time

args = sys.argv[1:]
opt = {"greeting": "220 odd.example ESMTP", "starttls": False, "split": False,
       "delay": 0.0, "hugereply": 0, "silent": False, "exit_after": 0,
       "crash_after": 0}
while args:
    a = args.pop(0)
    if a == "--greeting":
        opt["greeting"] = args.pop(0)
    elif a == "--starttls":
        opt["starttls"] = True
    elif a == "--split":
        opt["split"] = True
    elif a == "--delay":
        opt["delay"] = float(args.pop(0))
    elif a == "--hugereply":
        opt["hugereply"] = int(args.pop(0))
    elif a == "--silent":
        opt["silent"] = True
    elif a == "--exit-after":
        opt["exit_after"] = int(args.pop(0))
    elif a == "--crash-after":
        opt["crash_after"] = int(args.pop(0))
    else:
        sys.exit("oddserver: unknown option " + a)

rec = os.environ.get("STANDIN_RECORD")
pid = os.getpid()
if rec:
    with open(os.path.join(rec, "%d.env" % pid), "w") as f:
        for k, v in sorted(os.environ.items()):
            f.write("%s=%s\n" % (k, v))
    log = open(os.path.join(rec, "%d.in" % pid), "ab", buffering=0)
else:
    log = None


def out(text):
    data = text.encode()
    if opt["delay"]:
        time.sleep(opt["delay"])
    if opt["split"]:
        for i in range(len(data)):
            os.write(1, data[i:i + 1])
            time.sleep(0.002)
    else:
        while data:
            n = os.write(1, data)
            data = data[n:]


def finish(code):
    if rec:
        with open(os.path.join(rec, "%d.exit" % pid), "w") as f:
            f.write("%d\n" % code)
    sys.exit(code)


out(opt["greeting"] + "\r\n")
if not opt["greeting"].startswith("2"):
    finish(0)
buf = b""
ncmd = 0
indata = False
while True:
    chunk = os.read(0, 1024)
    if not chunk:
        finish(1)
    if log:
        log.write(chunk)
    buf += chunk
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        if indata:
            if line.rstrip(b"\r") == b".":
                indata = False
                out("250 ok\r\n")
            continue
        ncmd += 1
        verb = line.rstrip(b"\r").split(b" ")[0].lower()
        if opt["silent"]:
            pass
        elif verb == b"ehlo":
            text = "250-odd.example\r\n"
            if opt["starttls"]:
                text += "250-STARTTLS\r\n"
            out(text + "250-PIPELINING\r\n250 8BITMIME\r\n")
        elif verb == b"quit":
            out("221 odd.example\r\n")
            finish(0)
        elif verb == b"data":
            indata = True
            out("354 go ahead\r\n")
        elif verb == b"noop" and opt["hugereply"]:
            out("250 " + "x" * opt["hugereply"] + "\r\n")
        else:
            out("250 ok\r\n")
        if opt["exit_after"] and ncmd >= opt["exit_after"]:
            finish(3)
        if opt["crash_after"] and ncmd >= opt["crash_after"]:
            os.kill(os.getpid(), 9)
