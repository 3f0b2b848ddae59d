#!/bin/sh
# Make sure the Debian packages a target needs are installed: as root,
# install what is missing; otherwise print the exact apt-get line and fail.
#
#	sh tests/deps.sh build|demo|check|bench|slow|interop|all
#
# interop (in all, so in CI) is Debian's postfix for tests/e2e/t_interop.py.
# It is installed with debconf's "No configuration": no /etc/postfix/main.cf,
# so no system Postfix starts and nothing listens on port 25 (the tests run
# their own instances).  Postfix replaces any other MTA (package, or a
# qmail's /usr/sbin/sendmail link), so where /usr/sbin/sendmail exists it
# is left out and its tests skip, unless DEPS_POSTFIX=force (CI sets it).
#
# daemontools, runit, s6 and systemd (for systemd-socket-activate; no
# systemd need run) supervise the run scripts of starttls(7) in
# tests/e2e/t_runscripts.py, and iproute2's ss tells their listen backlog.
# Neither runit nor s6 starts a supervisor of its own on install.
#
# nsd, unbound and ldnsutils are for tests/e2e/dnssec.py (DANE): the tests
# run their own instances on 127.0.0.1 with their own configurations.  Where
# the system's services start on install (systemd, no policy-rc.d), the
# packages' own nsd and unbound start too, on port 53.
set -eu

build="gcc make pkg-config libtls-dev libssl-dev"
demo="$build ucspi-tcp swaks libnet-ssleay-perl openssl python3"
check="$demo curl python3 python3-aiosmtpd mandoc dnsmasq-base nsd unbound ldnsutils clang libclang-rt-14-dev msmtp gnutls-bin daemontools runit s6 systemd iproute2"
interop="postfix"
bench="$demo python3 tlswrapper"
slow="$check testssl.sh valgrind"

case "${1:-all}" in
build)	want=$build ;;
demo)	want=$demo ;;
check) want=$check ;;
bench)	want=$bench ;;
slow)	want=$slow ;;
interop) want=$interop ;;
all)	want="$check tlswrapper $interop" ;;
*)	echo "usage: sh tests/deps.sh build|demo|check|bench|slow|interop|all" >&2; exit 100 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system; make sure these are installed: $want" >&2
	exit 0
fi

missing=
for p in $want; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
case " $missing " in
*" postfix "*)
	if { [ -e /usr/sbin/sendmail ] || [ -L /usr/sbin/sendmail ]; } &&
	    [ "${DEPS_POSTFIX:-}" != force ]; then
		mta=$(dpkg-query -S /usr/sbin/sendmail 2>/dev/null |
		    cut -d: -f1 || true)
		echo "deps: not installing postfix: it would replace" \
		    "/usr/sbin/sendmail (${mta:-not from a package}); the" \
		    "Postfix tests will skip (DEPS_POSTFIX=force installs it)" >&2
		missing=$(echo "$missing" | sed 's/ postfix\( \|$\)/ /')
		missing=${missing% }
	fi
	;;
esac
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
case " $missing " in
*" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections ;;
esac
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends$missing >&2
