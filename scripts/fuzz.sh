#!/usr/bin/env bash
# Runs every fuzz target (func Fuzz... in a _test.go file) for FUZZTIME
# each and fails when one finds a crasher, which Go writes to the package's
# testdata/fuzz/<target>/ (commit it with the fix: it then runs in every
# go test).
#
#   FUZZTIME  how long each target runs (default 1s: the short run of
#             make test; make fuzz runs 30s)
#   FUZZ      a regexp of the targets to run (default: all)
#   FUZZMIN   the time allowed to minimize an input (default 1s). Inputs
#             whose coverage varies from run to run (map order, a
#             database's state) cannot be minimized and would eat the
#             fuzzer's 60 s default each.
#
# Each package is compiled once (go test -c -fuzz) and its binary run once
# per target, from the package's directory so it finds testdata/fuzz. A
# fresh cache directory per run keeps the run to the committed corpus and
# the seeds, so it is the same on every machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-1s}
FUZZMIN=${FUZZMIN:-1s}
FUZZ=${FUZZ:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
failed=()
n=0
for dir in $(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); do
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //' | grep -E -- "$FUZZ" || true)
	[ -n "$targets" ] || continue
	bin="$tmp/$(echo "$dir" | tr / _).test"
	if ! $GO test -c -fuzz . -o "$bin" "./$dir"; then
		failed+=("$dir (build)")
		continue
	fi
	for t in $targets; do
		n=$((n + 1))
		echo "== $dir $t ($FUZZTIME)"
		# -test.timeout: a hang fails instead of stalling the run.
		if ! (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^$t\$" -test.fuzztime "$FUZZTIME" \
			-test.fuzzminimizetime "$FUZZMIN" -test.fuzzcachedir "$tmp/cache/$dir/$t" -test.timeout 10m) \
			>"$tmp/out" 2>&1; then
			cat "$tmp/out"
			failed+=("$dir $t")
		else
			grep -E '^fuzz: elapsed: .*execs' "$tmp/out" | tail -1 || true
		fi
	done
done
echo "fuzz: $n targets, $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'FAIL fuzz: %s\n' "${failed[@]}"
	exit 1
fi
