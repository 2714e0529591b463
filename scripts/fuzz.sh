#!/usr/bin/env bash
# Runs every fuzz target (func Fuzz... in a _test.go file) for FUZZTIME
# each and fails when one finds a crasher, which Go writes to the package's
# testdata/fuzz/<target>/ (commit it with the fix: it then runs in every
# go test).
#
#   FUZZTIME  how long each target runs: a duration (make fuzz: 30s) or a
#             count of inputs (default 1000x, the short run of make test: a
#             count has no deadline, so a loaded machine only makes it
#             slower, and it dodges Go 1.26's deadline race, see below)
#   FUZZ      a regexp of the targets to run (default: all)
#   FUZZBUILD how the binaries are built (default "-fuzz .": with the
#             coverage instrumentation that guides the fuzzer). make test
#             builds with -race instead: an instrumented build recompiles
#             every dependency (7 minutes on a cold cache here), a race
#             build reuses the packages its go test -race compiled, and a
#             one-second run learns little from coverage anyway (the
#             mutations are blind, the races are caught).
#   FUZZPAR   fuzzing workers per target (default: one per CPU)
#   FUZZMIN   the time allowed to minimize an input (default 1s). Inputs
#             whose coverage varies from run to run (map order, a
#             database's state) cannot be minimized and would eat the
#             fuzzer's 60 s default each.
#
# Each package is compiled once (go test -c) and its binary run once
# per target, from the package's directory so it finds testdata/fuzz. A
# fresh cache directory per run keeps the run to the committed corpus and
# the seeds, so it is the same on every machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-1000x}
FUZZMIN=${FUZZMIN:-1s}
FUZZ=${FUZZ:-.}
FUZZBUILD=${FUZZBUILD:--fuzz .}
par=()
if [ -n "${FUZZPAR:-}" ]; then par=(-test.parallel "$FUZZPAR"); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
failed=()
n=0
for dir in $(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); do
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //' | grep -E -- "$FUZZ" || true)
	[ -n "$targets" ] || continue
	bin="$tmp/$(echo "$dir" | tr / _).test"
	b0=$SECONDS
	# shellcheck disable=SC2086 # FUZZBUILD is flags, split on purpose
	if ! $GO test -c $FUZZBUILD -o "$bin" "./$dir"; then
		failed+=("$dir (build)")
		continue
	fi
	echo "-- built $dir in $((SECONDS - b0)) s"
	for t in $targets; do
		n=$((n + 1))
		echo "== $dir $t ($FUZZTIME)"
		t0=$SECONDS
		# -test.timeout: a hang fails instead of stalling the run.
		if ! (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^$t\$" -test.fuzztime "$FUZZTIME" ${par[@]+"${par[@]}"} \
			-test.fuzzminimizetime "$FUZZMIN" -test.fuzzcachedir "$tmp/cache/$dir/$t" -test.timeout 10m) \
			>"$tmp/out" 2>&1; then
			if ! grep -q 'Failing input written to' "$tmp/out" && grep -qx '    context deadline exceeded' "$tmp/out"; then
				# Go 1.26's coordinator sometimes reports its own -fuzztime
				# deadline as a failure when workers are slow to stop
				# (golang/go#75804, fixed in Go 1.27): no input failed, and
				# every real failure writes one.
				echo "   (the fuzztime deadline race of golang/go#75804, no failing input: not a failure)"
			else
				cat "$tmp/out"
				failed+=("$dir $t")
			fi
		else
			line=$(grep -E '^fuzz: elapsed: .*execs' "$tmp/out" | tail -1 | sed 's/^fuzz: //' || true)
			if [ -z "$line" ]; then line=$(grep -m1 -A1 -- '--- SKIP' "$tmp/out" | tail -1 | sed 's/^ *//' || true); fi
			echo "   ${line:-no fuzzing}; $((SECONDS - t0)) s in all"
		fi
	done
done
echo "fuzz: $n targets, $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'FAIL fuzz: %s\n' "${failed[@]}"
	exit 1
fi
