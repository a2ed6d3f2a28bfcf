#!/usr/bin/env bash
# Installs every Debian package that the build, the demo and the tests need.
# Idempotent: packages already present are skipped, so `make` stays fast on a
# prepared machine and self-sufficient on a fresh one.
set -euo pipefail

packages=(
	build-essential
	pkg-config
	libssl-dev
	libp11-kit-dev
	openssl
	libengine-gost-openssl
	softhsm2
	opensc
	valgrind
	postgresql
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
