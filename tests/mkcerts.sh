#!/bin/sh
# mkcerts.sh DIR -- generate throw-away test certificates into DIR.
#
# Needs only the openssl(1) command-line tool (OpenSSL 3).  Quiet on success;
# on failure the output of the failing openssl command is shown.  Running it
# again into the same directory regenerates everything (new keys, new serials).
#
# Outputs (all PEM):
#   ca.key ca.pem                 test root CA "starttls test CA"
#   other-ca.key other-ca.pem     a second, unrelated CA
#   clientca.pem                  copy of ca.pem (control/clientca.pem)
#   server.key server.pem         RSA 2048, CN=localhost, SAN localhost/127.0.0.1/::1
#   servercert.pem                qmail-tls layout: key, junk line, cert, CA cert
#   wrongname.{key,pem} wrongname-servercert.pem          CN/SAN wrong.example.net
#   selfsigned-server.{key,pem} selfsigned-servercert.pem self-signed localhost
#   intermediate.{key,pem}        a CA under ca, as ACME CAs issue from
#   mx.key mx.pem mx-fullchain.pem ECDSA, SAN mail.example.net and
#                                 mx.example.net, by intermediate; the
#                                 full chain as certbot writes it (leaf,
#                                 then intermediate), the key apart
#   NAME.key NAME.pem NAME-combined.pem (key then cert) for the client certs
#     client client2 upper sanonly selfsigned otherca expired revoked tricky
#     serveronly
#   crl.pem                       CRL by ca listing "revoked" (valid 30 days)
#   emptycrl.pem                  CRL by ca with nothing revoked
#   expiredcrl.pem                CRL by ca, past its next update (2020)
#   tlsclients                    good@example.com, san@example.com
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi

command -v openssl >/dev/null 2>&1 || { echo "$0: openssl not found" >&2; exit 1; }

mkdir -p "$1"
cd "$1"

# Keep the user's/system openssl.cnf out of the picture.
unset OPENSSL_CONF 2>/dev/null || true

work=ca-db
rm -rf "$work"
mkdir "$work" "$work/newcerts"
log=$work/log
: >"$work/index.txt"
echo "unique_subject = no" >"$work/index.txt.attr"
echo 01 >"$work/crlnumber"
openssl rand -hex 16 >"$work/serial"
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

DAYS=3650

# run CMD...: run quietly, show its output only if it fails.
run() {
	if ! "$@" >"$log" 2>&1; then
		echo "$0: command failed: $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

cnf=$work/openssl.cnf
cat >"$cnf" <<'CNF'
[ req ]
distinguished_name = req_dn
string_mask = utf8only
prompt = no
[ req_dn ]
CN = unused

[ ca ]
default_ca = testca
[ testca ]
dir = ./ca-db
database = $dir/index.txt
new_certs_dir = $dir/newcerts
crlnumber = $dir/crlnumber
serial = $dir/serial
certificate = ./ca.pem
private_key = ./ca.key
default_md = sha256
default_days = 3650
default_crl_days = 30
unique_subject = no
email_in_dn = yes
policy = policy_any
copy_extensions = none
[ policy_any ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
emailAddress = optional

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ server_rsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ server_wrongname ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example.net
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ server_mx ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mail.example.net, DNS:mx.example.net
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ server_selfsigned ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash

[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ client_selfsigned ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash

[ client_sanonly ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = email:san@example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ client_serveronly ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

# ec_key NAME / rsa_key NAME: generate NAME.key
ec_key() {
	run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$1.key"
}
rsa_key() {
	run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$1.key"
}

# selfsign NAME SUBJECT EXTSECTION: NAME.key (must exist) -> NAME.pem
selfsign() {
	run openssl req -config "$cnf" -new -x509 -sha256 -days "$DAYS" \
		-key "$1.key" -subj "$2" -extensions "$3" \
		-set_serial "0x$(openssl rand -hex 16)" -out "$1.pem"
}

# sign CA NAME SUBJECT EXTSECTION: NAME.key (must exist) -> NAME.pem,
# signed by CA.pem/CA.key with `openssl x509 -req'.
sign() {
	run openssl req -config "$cnf" -new -key "$2.key" -subj "$3" \
		-out "$work/$2.csr"
	run openssl x509 -req -sha256 -days "$DAYS" -in "$work/$2.csr" \
		-CA "$1.pem" -CAkey "$1.key" \
		-set_serial "0x$(openssl rand -hex 16)" \
		-extfile "$cnf" -extensions "$4" -out "$2.pem"
}

# ca_sign NAME SUBJECT EXTSECTION [openssl-ca-options...]: sign with
# `openssl ca' (records the certificate in the CA database for the CRL).
ca_sign() {
	_n=$1 _s=$2 _e=$3
	shift 3
	run openssl req -config "$cnf" -new -key "$_n.key" -subj "$_s" \
		-out "$work/$_n.csr"
	run openssl ca -config "$cnf" -batch -notext -preserveDN -rand_serial \
		-extensions "$_e" -in "$work/$_n.csr" -out "$_n.pem" "$@"
}

# combine NAME: NAME-combined.pem = key then certificate
combine() {
	cat "$1.key" "$1.pem" >"$1-combined.pem"
}

# servercert NAME OUT [CHAIN...]: qmail-tls control/servercert.pem layout
servercert() {
	_n=$1 _o=$2
	shift 2
	{
		cat "$_n.key"
		echo "this text is ignored"
		cat "$_n.pem" "$@"
	} >"$_o"
}

# --- CAs -----------------------------------------------------------------
ec_key ca
selfsign ca "/CN=starttls test CA" v3_ca
cp ca.pem clientca.pem

ec_key other-ca
selfsign other-ca "/CN=starttls other test CA" v3_ca

# --- servers -------------------------------------------------------------
rsa_key server
sign ca server "/CN=localhost" server_rsa
servercert server servercert.pem ca.pem

ec_key wrongname
sign ca wrongname "/CN=wrong.example.net" server_wrongname
servercert wrongname wrongname-servercert.pem ca.pem

ec_key selfsigned-server
selfsign selfsigned-server "/CN=localhost" server_selfsigned
servercert selfsigned-server selfsigned-servercert.pem

ec_key intermediate
sign ca intermediate "/CN=starttls test intermediate" v3_ca
ec_key mx
sign intermediate mx "/CN=mail.example.net" server_mx
cat mx.pem intermediate.pem >mx-fullchain.pem

# --- clients -------------------------------------------------------------
ec_key client
sign ca client "/CN=good client/emailAddress=good@example.com" client

ec_key client2
sign ca client2 "/emailAddress=other@example.com" client

ec_key upper
sign ca upper "/emailAddress=Good@EXAMPLE.com" client

ec_key sanonly
sign ca sanonly "/CN=san client" client_sanonly

ec_key selfsigned
selfsign selfsigned "/emailAddress=good@example.com" client_selfsigned

ec_key otherca
sign other-ca otherca "/emailAddress=good@example.com" client

# CN is literally "x/emailAddress=good@example.com"; no emailAddress attribute.
ec_key tricky
sign ca tricky '/CN=x\/emailAddress=good@example.com' client

ec_key serveronly
sign ca serveronly "/emailAddress=good@example.com" client_serveronly

ec_key expired
ca_sign expired "/emailAddress=good@example.com" client \
	-startdate 20200101000000Z -enddate 20200201000000Z

ec_key revoked
ca_sign revoked "/emailAddress=good@example.com" client

for n in client client2 upper sanonly selfsigned otherca tricky serveronly \
	expired revoked; do
	combine "$n"
done

# --- CRLs ----------------------------------------------------------------
run openssl ca -config "$cnf" -batch -gencrl -crldays 30 -crlexts crl_ext \
	-out emptycrl.pem
run openssl ca -config "$cnf" -batch -revoke revoked.pem -crl_reason keyCompromise
run openssl ca -config "$cnf" -batch -gencrl -crldays 30 -crlexts crl_ext \
	-out crl.pem
run openssl ca -config "$cnf" -batch -gencrl -crlexts crl_ext \
	-crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z \
	-out expiredcrl.pem

# --- control/tlsclients ---------------------------------------------------
printf '%s\n' good@example.com san@example.com >tlsclients
