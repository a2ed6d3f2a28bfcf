#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each
# (default 30s): `make fuzz FUZZTIME=5m` for a longer soak. Every target
# runs even after a failure; the summary says which failed.
#
# Go 1.26's fuzz coordinator can end a duration-bounded run with a bare
# "context deadline exceeded" and no failing input (go.dev/issue/75804,
# fixed in Go 1.27). Such a run found nothing and is reported as a flake;
# a run that writes a failing input always fails.
set -uo pipefail
fuzztime="${1:-30s}"
cd "$(dirname "$0")/.."
passed=0 flaked=0 failed=()
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' "$dir"/*_test.go 2>/dev/null | awk '{print $2}'); do
		echo "== $pkg $target ($fuzztime)"
		out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1)
		status=$?
		echo "$out" | tail -n 20
		if [ $status -eq 0 ]; then
			passed=$((passed + 1))
		elif ! grep -q 'Failing input written to' <<<"$out" &&
			[ "$(grep -c -- '--- FAIL' <<<"$out")" -eq 1 ] &&
			grep -A1 -- '--- FAIL' <<<"$out" | grep -q 'context deadline exceeded$'; then
			echo "(flake: go.dev/issue/75804, no failing input)"
			flaked=$((flaked + 1))
		else
			failed+=("$pkg $target")
		fi
	done
done
echo "fuzz: $passed passed, $flaked flaked (go.dev/issue/75804), ${#failed[@]} failed"
for f in "${failed[@]}"; do echo "FAILED: $f"; done
[ ${#failed[@]} -eq 0 ]
