#!/usr/bin/env bash
# Installs every Debian package that the build, the demo and the tests need.
# Idempotent: packages already present are skipped, so `make` stays fast on a
# prepared machine and self-sufficient on a fresh one.
set -euo pipefail

# Go comes from go.dev, not from Debian (whose Go is older than go.mod's).
need_go=1.26
go_help="get Go $need_go or later from https://go.dev/dl/ (unpack to /usr/local/go, add /usr/local/go/bin to PATH)"
if ! command -v go >/dev/null 2>&1; then
	echo "install-deps: no go command: $go_help" >&2
	exit 1
fi
have_go=$(go version | grep -oE 'go[0-9]+\.[0-9]+' | head -n1 | cut -c3-)
if [ -z "$have_go" ] || [ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -t. -k1,1n -k2,2n | head -n1)" != "$need_go" ]; then
	echo "install-deps: $(go version) is too old: $go_help" >&2
	exit 1
fi

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
