#!/bin/sh
# make fuzz: run each libFuzzer target for a bounded time.
#
#	sh tests/fuzz/fuzz.sh builddir seconds target ...
#
# Each target starts from its seeds in tests/fuzz/corpus/<target> (and,
# for certid and tlsa, throw-away certificates made here) and keeps what it learns
# in builddir/corpus/<target>.  A crash leaves its input as
# builddir/<target>-crash-*: add it to tests/fuzz/corpus/<target> once
# fixed, so it stays a regression input.  Exit 1 if any target failed.
set -u
b=$1 t=$2
shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
fail=0
for f in "$@"; do
	mkdir -p "$b/corpus/$f"
	cp "$top/tests/fuzz/corpus/$f"/* "$b/corpus/$f/" 2>/dev/null
	if [ "$f" = certid ]; then
		sh "$top/tests/mkcerts.sh" "$b/certs" &&
		    cp "$b/certs"/*.pem "$b/corpus/$f/"
		export FUZZ_CA="$b/certs/ca.pem"
	fi
	if [ "$f" = tlsa ]; then
		[ -f "$b/certs/mx-fullchain.pem" ] ||
		    sh "$top/tests/mkcerts.sh" "$b/certs"
		export FUZZ_CHAIN="$b/certs/mx-fullchain.pem"
	fi
	out=$("$b/fuzz-$f" -max_total_time="$t" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$b/$f-" "$b/corpus/$f" 2>&1)
	rc=$?
	runs=$(printf '%s\n' "$out" | sed -n 's/^stat::number_of_executed_units: *//p')
	if [ $rc -eq 0 ]; then
		echo "fuzz: $f: ${runs:-?} executions in ${t}s, no finding"
	else
		echo "fuzz: $f: FAILED after ${runs:-?} executions:"
		printf '%s\n' "$out" | grep -E 'ERROR|SUMMARY|Assertion|==[0-9]+==' | head -8
		fail=1
	fi
done
exit $fail
