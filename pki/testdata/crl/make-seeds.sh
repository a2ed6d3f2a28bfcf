#!/bin/sh
# Regenerates the OpenSSL-made fuzz seeds in pki/testdata/crl and
# pki/testdata/ocsp: CRLs from `openssl ca -gencrl`, OCSP requests from
# `openssl ocsp -reqout` and responses from OpenSSL's responder, for GOST
# 256 and 512 and ECDSA. The keys are throwaway and are not kept.
# Usage: sh pki/testdata/crl/make-seeds.sh   (from the repository root)
set -eu
root=$(pwd)
export OPENSSL_CONF="$root/testdata/openssl-gost.cnf"
crl="$root/pki/testdata/crl"
ocsp="$root/pki/testdata/ocsp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

seed() { # name genpkey-args... ; ocsp digest in $md
	name=$1; shift
	mkdir "$name"; cd "$name"
	openssl genpkey "$@" -out ca.key
	openssl req -x509 -new -key ca.key -subj "/O=gostkey seeds/CN=Seed CA $name" -days 3650 -set_serial 1 \
		-addext keyUsage=critical,keyCertSign,cRLSign -addext basicConstraints=critical,CA:true -out ca.pem
	openssl genpkey "$@" -out leaf.key
	openssl req -new -key leaf.key -subj /CN=leaf -out leaf.csr
	printf 'extendedKeyUsage=OCSPSigning\n' > responder.ext
	openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x1001 -days 3650 -out revoked.pem
	openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x1002 -days 3650 -out superseded.pem
	openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x1003 -days 3650 -extfile responder.ext -out responder.pem
	: > index.txt
	echo 1000 > crlnumber
	cat > ca.cnf <<CNF
.include $OPENSSL_CONF
[ca]
default_ca = seedca
[seedca]
database = index.txt
crlnumber = crlnumber
certificate = ca.pem
private_key = ca.key
default_md = default
default_crl_days = 3650
unique_subject = no
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
[delta_ext]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp
deltaCRL = critical, DER:02:02:0f:ff
[idp]
fullname = URI:http://ca.test/revocation.crl
CNF
	openssl ca -config ca.cnf -batch -revoke revoked.pem -crl_compromise 20260102030405Z
	openssl ca -config ca.cnf -batch -revoke superseded.pem -crl_reason superseded
	openssl ca -config ca.cnf -batch -valid responder.pem
	openssl ca -config ca.cnf -batch -gencrl -out crl.pem
	openssl crl -in crl.pem -outform DER -out "$crl/openssl-$name.crl.der"
	openssl ca -config ca.cnf -batch -gencrl -crlexts delta_ext -out delta.pem
	openssl crl -in delta.pem -outform DER -out "$crl/openssl-$name-delta.crl.der"
	openssl ocsp -issuer ca.pem -sha1 -cert revoked.pem -cert responder.pem -reqout "$ocsp/openssl-$name-sha1.req.der"
	openssl ocsp -issuer ca.pem "$md" -cert revoked.pem -reqout req.der
	cp req.der "$ocsp/openssl-$name-${md#-}.req.der"
	openssl ocsp -index index.txt -CA ca.pem -rsigner ca.pem -rkey ca.key -reqin req.der -ndays 3650 \
		-respout "$ocsp/openssl-$name-revoked.resp.der"
	openssl ocsp -issuer ca.pem "$md" -cert responder.pem -reqout good.der
	openssl ocsp -index index.txt -CA ca.pem -rsigner responder.pem -rkey leaf.key -reqin good.der -ndays 3650 -resp_key_id \
		-respout "$ocsp/openssl-$name-delegated-good.resp.der"
	cd ..
}

md=-md_gost12_256 seed gost256 -algorithm gost2012_256 -pkeyopt paramset:A
md=-md_gost12_512 seed gost512 -algorithm gost2012_512 -pkeyopt paramset:C
md=-sha256 seed ecdsa -algorithm EC -pkeyopt ec_paramgen_curve:P-256
