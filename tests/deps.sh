#!/bin/sh
# Make sure the Debian packages a target needs are installed: as root,
# install what is missing; otherwise print the exact apt-get line and fail.
#
#	sh tests/deps.sh build|demo|check|bench|slow|all
set -eu

build="gcc make pkg-config libtls-dev libssl-dev libseccomp-dev"
demo="$build ucspi-tcp swaks libnet-ssleay-perl openssl python3"
check="$demo curl python3 python3-aiosmtpd mandoc dnsmasq-base clang libclang-rt-14-dev"
bench="$demo python3 tlswrapper"
slow="$check testssl.sh valgrind"

case "${1:-all}" in
build)	want=$build ;;
demo)	want=$demo ;;
check) want=$check ;;
bench)	want=$bench ;;
slow)	want=$slow ;;
all)	want="$check tlswrapper" ;;
*)	echo "usage: sh tests/deps.sh build|demo|check|bench|slow|all" >&2; exit 100 ;;
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
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends$missing >&2
