#!/bin/sh
# make demo: a live starttls-smtpd on 127.0.0.1 with throw-away
# certificates, the qmail-smtpd stand-in behind it, and one message sent
# through it over STARTTLS with a client certificate that grants relaying.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/starttls-demo.XXXXXX")
chmod 755 "$work"
# as root, run the servers as nobody, as a qmail run script runs them
# as qmaild: starttls-smtpd refuses to run as root
asuser=
[ "$(id -u)" -eq 0 ] && asuser="-u $(id -u nobody) -g $(id -g nobody)"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

say() { printf '\n=== %s\n' "$*"; }

say "throw-away certificates (CA, server, client good@example.com)"
sh "$top/tests/mkcerts.sh" "$work/certs"
mkdir -p "$work/qmail/control" "$work/qmail/bin" "$work/queue"
chmod 777 "$work/queue"
# qmail-smtpd's queue program: here a stand-in that records the message
ln -s "$top/build/qmail-queue-standin" "$work/qmail/bin/qmail-queue"
cp "$work/certs/servercert.pem" "$work/certs/clientca.pem" \
    "$work/qmail/control/"
echo good@example.com > "$work/qmail/control/tlsclients"
echo demo.example.org > "$work/qmail/control/me"
echo example.org > "$work/qmail/control/rcpthosts"
ls -l "$work/qmail/control"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
say "tcpserver 127.0.0.1 $port starttls-smtpd -Q starttls-received qmail-smtpd-standin"
STARTTLS_CONTROLDIR=$work/qmail/control STANDIN_HOME=$work/qmail \
    STANDIN_RECORD=$work/queue \
    tcpserver -v -R -H -l localhost $asuser 127.0.0.1 "$port" \
    "$top/build/starttls-smtpd" -Q "$top/build/starttls-received" \
    "$top/build/qmail-smtpd-standin" \
    >"$work/log" 2>&1 &
pid=$!
i=0
until grep -q 'status: 0/' "$work/log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/log"; exit 1; }
	sleep 0.05
done

say "swaks: STARTTLS, client certificate, mail to a domain that is not ours"
swaks -s 127.0.0.1 -p "$port" --tls --tls-verify --tls-ca-path "$work/certs/ca.pem" \
    --tls-cert "$work/certs/client.pem" --tls-key "$work/certs/client.key" \
    --helo client.example -f sender@client.example -t friend@elsewhere.net \
    --header "Subject: starttls demo" --body "Relayed because of a client certificate."

sleep 0.3
say "the log (tcpserver and starttls-smtpd)"
cat "$work/log"

say "what qmail-smtpd saw after the handshake"
env=$(ls -t "$work/queue"/*.env | head -1)
grep -E '^(SSL_PROTOCOL|SSL_CIPHER|SSL_CLIENT_VERIFY|SSL_CLIENT_S_DN_Email|RELAYCLIENT|TCPREMOTEINFO)=' "$env"

say "the message as it would enter the queue (starttls-received put TLS in qmail-smtpd's Received field)"
cat "$work/queue"/*.envelope
echo
cat "$work/queue"/*.msg

grep -q 'relay granted to good@example.com' "$work/log"
grep -q 'with ESMTPS (TLSv1' "$work/queue"/*.msg
say "demo done: RELAYCLIENT was granted by the certificate; everything is stopped"
