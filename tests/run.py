#!/usr/bin/python3
"""Runs the whole suite: the C unit tests (tests/unit/), the man page
lint, a short run of each fuzz target built (tests/fuzz/), and the
end-to-end tests of tests/e2e/t_*.py.  Ends with one line "N passed,
N failed".

  tests/run.py [-v] [name-substring ...]
"""
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback

# the end-to-end tests and their helpers (lib.py, peers.py, ...)
E2E = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e")
sys.path.insert(0, E2E)
import lib  # noqa: E402

class Timeout(Exception):
    pass


# every test is bounded; the slow ones (make check-slow) take minutes
LIMIT = 900 if os.environ.get("STARTTLS_SLOW") else 120


def on_alarm(sig, frame):
    raise Timeout("test took longer than %d s" % LIMIT)


def main():
    verbose = "-v" in sys.argv
    want = [a for a in sys.argv[1:] if a != "-v"]
    passed = failed = skipped = 0
    t0 = time.time()

    # C unit tests: TAP lines from build/unit
    if not want or any("unit" in w for w in want):
        unit = os.path.join(lib.BUILD, "unit")
        p = subprocess.run([unit], capture_output=True, text=True, timeout=300)
        for line in p.stdout.splitlines():
            if line.startswith("ok "):
                passed += 1
                if verbose:
                    print("ok - unit: " + line.split(" - ", 1)[-1])
            elif line.startswith("not ok"):
                failed += 1
                print("not ok - unit: " + line.split(" - ", 1)[-1])
        if p.returncode != 0 and "not ok" not in p.stdout:
            failed += 1
            print("not ok - unit: exit %d: %s" % (p.returncode, p.stderr))

    # the man pages
    if not want or any("man" in w for w in want):
        pages = sorted(os.path.join(lib.TOP, "man", f)
                       for f in os.listdir(os.path.join(lib.TOP, "man")))
        p = subprocess.run(["mandoc", "-Tlint", "-W", "warning"] + pages,
                           capture_output=True, text=True)
        if p.returncode == 0 and not p.stdout and not p.stderr:
            passed += 1
        else:
            failed += 1
            print("not ok - man pages lint: " + (p.stdout + p.stderr))

    lib.make_certs()

    # a short run of every fuzz target that was built (make fuzz runs long)
    fuzzdir = os.path.join(lib.BUILD, "fuzz")
    if (not want or any("fuzz" in w for w in want)) and \
            os.path.isdir(fuzzdir):
        for f in sorted(os.listdir(fuzzdir)):
            if not f.startswith("fuzz-"):
                continue
            name = f[5:]
            corpus = os.path.join(lib.WORK, "fuzz-" + name)
            shutil.copytree(os.path.join(lib.TOP, "tests", "fuzz", "corpus",
                                         name), corpus)
            env = dict(os.environ, FUZZ_CA=lib.cert("ca.pem"))
            if name == "certid":
                for c in ("client.pem", "tricky.pem", "sanonly.pem",
                          "server.pem"):
                    shutil.copy(lib.cert(c), corpus)
            p = subprocess.run(
                [os.path.join(fuzzdir, f), "-max_total_time=4",
                 "-timeout=10", "-artifact_prefix=%s/" % lib.WORK, corpus],
                capture_output=True, text=True, env=env, timeout=120)
            if p.returncode == 0:
                passed += 1
                if verbose:
                    print("ok - fuzz %s" % name)
            else:
                failed += 1
                print("not ok - fuzz %s: %s" % (name, "\n".join(
                    l for l in p.stderr.splitlines()
                    if "ERROR" in l or "Assertion" in l or "SUMMARY" in l)))

    for mod in sorted(f[:-3] for f in os.listdir(E2E)
                      if f.startswith("t_") and f.endswith(".py")):
        m = importlib.import_module(mod)
        for fn in m.TESTS:
            name = "%s.%s" % (mod[2:], fn.__name__)
            if want and not any(w in name for w in want):
                continue
            signal.signal(signal.SIGALRM, on_alarm)
            signal.alarm(LIMIT)
            start = time.time()
            try:
                r = fn()
                signal.alarm(0)
                if r == "skip":
                    skipped += 1
                    print("skip - %s" % name)
                    continue
                passed += 1
                if verbose:
                    print("ok - %s (%.1fs)" % (name, time.time() - start))
            except Exception as e:
                signal.alarm(0)
                failed += 1
                detail = str(e) if isinstance(e, lib.Fail) else \
                    traceback.format_exc()
                print("not ok - %s: %s" % (name, detail))
    try:
        import peers
        peers.stop_names()
    except ImportError:
        pass
    lib.cleanup()
    # make check-valgrind: any error or definite leak in a log fails
    if lib.VALGRIND and os.path.isdir(lib.VALGRIND):
        bad = []
        for f in sorted(os.listdir(lib.VALGRIND)):
            # "==pid==" lines report on the program; "--pid--" lines are
            # valgrind's own notes (a system call it does not know, such
            # as pidfd_open: the program then goes on without it)
            text = "\n".join(l for l in open(os.path.join(lib.VALGRIND, f))
                             .read().splitlines() if l.startswith("=="))
            if text.strip():
                bad.append("%s:\n%s" % (f, text[:1500]))
        if bad:
            failed += 1
            print("not ok - valgrind: %d processes reported:\n%s" % (
                len(bad), bad[0]))
        else:
            passed += 1
            print("ok - valgrind: %d processes, no errors, no definite "
                  "leaks" % len(os.listdir(lib.VALGRIND)))
    # make check-asan: sanitizers write their reports here, not to fd 2
    logs = os.environ.get("STARTTLS_SANITIZER_LOGS")
    if logs and os.path.isdir(logs):
        reports = sorted(os.listdir(logs))
        if reports:
            failed += 1
            print("not ok - sanitizers: %d reports in %s, first: %s" % (
                len(reports), logs, open(os.path.join(logs, reports[0]))
                .read()[:2000]))
        else:
            passed += 1
    if verbose:
        print("time: %.0f s" % (time.time() - t0))
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
