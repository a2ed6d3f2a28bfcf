#!/usr/bin/env bash
# make demo: gostkey's main job on embedded defaults, start to finish, in a
# throwaway directory: a token, signatures, then the whole system — a CA
# (gostkey-ca) initialized and served, an applicant registered, a key
# enrolled with the one-time code, a signature checked by OCSP before and
# after revocation, the CA's audit journal verified. Each step prints what
# it does; any failure stops it. KEEP=1 keeps the directory (tokens, CA,
# certificates, signatures) to look at.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/bin"
export OPENSSL_CONF="$root/testdata/openssl-gost.cnf"
# PIN files and token files readable by the user only.
umask 077
work="$(mktemp -d)"
serve_pid=
cleanup() {
	if [ -n "$serve_pid" ]; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	if [ "${KEEP:-}" = 1 ]; then
		echo
		echo "work directory kept: $work (GOSTKEY_SOFTTOKEN_DIR=$work/tokens; the CA in $work/ca, its log in $work/ca-serve.log)"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "Streebog digests of README.md: gostkey and openssl agree"
"$bin/gostkey" hash --alg streebog256 "$root/README.md"
openssl dgst -streebog256 -r "$root/README.md"
ours=$("$bin/gostkey" hash --alg streebog512 "$root/README.md" | cut -d' ' -f1)
theirs=$(openssl dgst -streebog512 -r "$root/README.md" | cut -d' ' -f1)
[ "$ours" = "$theirs" ] || { echo "streebog512 mismatch: $ours vs $theirs"; exit 1; }
echo "streebog512 agrees: $ours"

# A software token of our own, in the throwaway directory: the same
# PKCS#11 calls a Rutoken or JaCarta answers.
module="$bin/libgostkey-softtoken.so"
export GOSTKEY_SOFTTOKEN_DIR="$work/tokens"
printf '87654321\n' >"$work/so.pin"
printf '12345678\n' >"$work/user.pin"
tok=(--module "$module" --token demo --pin-file "$work/user.pin")

step "Initialize a software token"
"$bin/gostkey" token init --module "$module" --label demo --so-pin-file "$work/so.pin" --pin-file "$work/user.pin"

step "Generate a GOST R 34.10-2012 key on the token (TC26 256-bit paramSetA)"
"$bin/gostkey" key gen "${tok[@]}" --alg gost256-A --label signer

step "Self-signed qualified-style certificate for the key, stored on the token"
"$bin/gostkey" cert self-sign "${tok[@]}" --key signer --days 365 --out "$work/signer.pem" \
	--subject 'CN=Иван Петров,SN=Петров,GN=Иван Сергеевич,SNILS=11223344595,INN=500100732259,C=RU'
"$bin/gostkey" cert import "${tok[@]}" --key signer --in "$work/signer.pem"
"$bin/gostkey" cert show "$work/signer.pem"

step "Sign a document on the token (detached CAdES-BES)"
printf 'Договор № 17 от %s\n' "$(date +%d.%m.%Y)" >"$work/contract.txt"
"$bin/gostkey" sign "${tok[@]}" --key signer --in "$work/contract.txt" --out "$work/contract.txt.sig"

step "Sign two more documents with one login (a signature beside each)"
printf 'Акт № 1\n' >"$work/act1.txt"
printf 'Акт № 2\n' >"$work/act2.txt"
"$bin/gostkey" sign "${tok[@]}" --key signer --in "$work/act1.txt" --in "$work/act2.txt"

step "Verify with gostkey"
"$bin/gostkey" verify --sig "$work/contract.txt.sig" --content "$work/contract.txt" --ca "$work/signer.pem"

step "Verify with OpenSSL's gost engine (the independent judge)"
openssl cms -verify -cades -binary -inform DER -in "$work/contract.txt.sig" -content "$work/contract.txt" \
	-CAfile "$work/signer.pem" -purpose any -out /dev/null

step "A changed document is refused (exit status 1)"
printf 'Договор № 18\n' >"$work/forged.txt"
set +e
"$bin/gostkey" verify --sig "$work/contract.txt.sig" --content "$work/forged.txt" --ca "$work/signer.pem"
status=$?
set -e
[ "$status" -eq 1 ] || { echo "expected exit status 1 for a forged document, got $status"; exit 1; }
echo "refused as expected (exit status $status)"

# ---- The whole system: a CA of our own on embedded defaults.

step "Make a CA: gostkey-ca init (GOST root and issuing CA keys on a softtoken, SQLite, TLS root, admin token)"
# The last two lines of init's output show the admin token, which stays in
# ca/admin.token.
"$bin/gostkey-ca" init --dir "$work/ca" | head -n -2
echo "admin token:  $work/ca/admin.token (0600)"
api=$(sed -n 's/^ *"api_url": *"\([^"]*\)".*/\1/p' "$work/ca/ca.json")
ca=(--ca "$api" --tls-root "$work/ca/tls-root.pem")

step "Serve it: HTTPS API at $api, CRLs and OCSP over plain HTTP (log in ca-serve.log)"
"$bin/gostkey-ca" serve --config "$work/ca/ca.json" 2>"$work/ca-serve.log" &
serve_pid=$!
for _ in $(seq 100); do
	"$bin/gostkey" ca roots "${ca[@]}" --out "$work/ca-root.pem" >/dev/null 2>&1 && break
	kill -0 "$serve_pid" 2>/dev/null || { echo "gostkey-ca serve exited:"; cat "$work/ca-serve.log"; exit 1; }
	sleep 0.1
done
"$bin/gostkey" ca roots "${ca[@]}" --out "$work/ca-root.pem"

step "The admin makes a registrar (an operator with an API token of its own)"
"$bin/gostkey" ca operator add "${ca[@]}" --admin-token-file "$work/ca/admin.token" \
	--name registrar-1 --role registrar --token-out "$work/registrar.token"
reg=(--admin-token-file "$work/registrar.token")

step "The registrar registers an applicant: a one-time activation code (last line), also as a QR code"
"$bin/gostkey" ca register "${ca[@]}" "${reg[@]}" --surname Петрова --given-name Анна --patronymic Сергеевна \
	--snils 087-654-303-00 --inn 773301001840 --qr | tee "$work/register.out"
code=$(tail -n 1 "$work/register.out")

step "The applicant enrolls: a GOST key made on the token, the request signed there, the certificate stored beside it"
"$bin/gostkey" enroll "${ca[@]}" --code "$code" "${tok[@]}" --alg gost256-A --label state-key --chain-out "$work/ca-chain.pem" |
	tee "$work/enroll.out"
serial=$(sed -n 's/^serial: *//p' "$work/enroll.out")

step "Sign a document with the state key"
printf 'Заявление от %s\n' "$(date +%d.%m.%Y)" >"$work/application.txt"
"$bin/gostkey" sign "${tok[@]}" --key state-key --in "$work/application.txt" --out "$work/application.txt.sig" --chain "$work/ca-chain.pem"

step "Verify it, the whole chain's revocation required (the leaf by OCSP, the issuing CA by the root's CRL): valid"
"$bin/gostkey" verify --sig "$work/application.txt.sig" --content "$work/application.txt" --ca "$work/ca-root.pem" --ocsp --require-revocation

step "The code was for one use: a second enrollment is refused (exit status 1)"
set +e
"$bin/gostkey" enroll "${ca[@]}" --code "$code" "${tok[@]}" --alg gost256-A --label second-key
status=$?
set -e
[ "$status" -eq 1 ] || { echo "expected exit status 1 for a used code, got $status"; exit 1; }
echo "refused as expected (exit status $status)"

step "The registrar revokes the certificate (key compromise)"
"$bin/gostkey" ca revoke "${ca[@]}" "${reg[@]}" --serial "$serial" --reason keyCompromise

step "Verify again: OCSP now says revoked (exit status 1)"
set +e
"$bin/gostkey" verify --sig "$work/application.txt.sig" --content "$work/application.txt" --ca "$work/ca-root.pem" --ocsp
status=$?
set -e
[ "$status" -eq 1 ] || { echo "expected exit status 1 for a revoked certificate, got $status"; exit 1; }
echo "refused as expected (exit status $status)"

step "Stop the CA and verify its audit journal (hash chain and signed checkpoints)"
kill "$serve_pid"
wait "$serve_pid" || true
serve_pid=
"$bin/gostkey-ca" audit verify --config "$work/ca/ca.json"

echo
echo "demo finished: all steps succeeded"
