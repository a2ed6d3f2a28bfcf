#!/usr/bin/env bash
# make demo: gostkey's main job on embedded defaults, start to finish, in a
# throwaway directory. Each step prints what it does; any failure stops it.
# KEEP=1 keeps the directory (token, certificate, signatures) to look at.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/bin"
export OPENSSL_CONF="$root/testdata/openssl-gost.cnf"
# PIN files and token files readable by the user only.
umask 077
work="$(mktemp -d)"
if [ "${KEEP:-}" = 1 ]; then
	trap 'echo; echo "work directory kept: $work (GOSTKEY_SOFTTOKEN_DIR=$work/tokens)"' EXIT
else
	trap 'rm -rf "$work"' EXIT
fi
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

echo
echo "demo finished: all steps succeeded"
