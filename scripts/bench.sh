#!/usr/bin/env bash
# Runs the Go benchmarks and prints one line per figure with its target
# (scripts/bench-targets.txt), then the raw benchmark lines. Packages run one
# at a time (-p 1) so that no benchmark competes with another for the CPU.
# Each benchmark runs BENCH_COUNT times (default 3) and a figure is the
# median of its runs: a shared machine's stalls move single runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
count=${BENCH_COUNT:-3}
go test -p 1 -run '^$' -bench . -benchmem -count="$count" -timeout 60m "${@:-./...}" | grep -E '^(Benchmark|FAIL|---|panic)' >"$raw" || true
# Figures depend on the machine: say how many cores it has.
echo "machine: $(nproc) cores ($(nproc --all) online), $(go env GOOS)/$(go env GOARCH), $(go version | awk '{print $3}'); figures are medians of $count runs"
awk -v targets="$root/scripts/bench-targets.txt" '
function scale(v, unit) { return unit == "ms" ? v / 1e6 : unit == "us" ? v / 1e3 : v }
BEGIN {
	while ((getline line < targets) > 0) {
		if (line ~ /^#/ || line ~ /^[[:space:]]*$/) continue
		split(line, f, /[[:space:]]+/)
		n++; name[n] = f[1]; metric[n] = f[2]; target[n] = f[3]; unit[n] = f[4]
		what[n] = line; sub(/^[^[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+/, "", what[n])
		above[n] = (f[2] ~ /\/s$/)  # throughput: higher is better
	}
}
function median(key,    k, j, m, t, a) {
	m = runs[key]
	for (k = 1; k <= m; k++) a[k] = vals[key, k]
	for (k = 2; k <= m; k++) for (j = k; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
{ raw[NR] = $0; bn = $1; sub(/-[0-9]+$/, "", bn)
  for (i = 2; i < NF; i++) if ($i ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) { key = bn SUBSEP $(i + 1); vals[key, ++runs[key]] = $i; value[key] = 1 } }
END {
	for (i = 1; i <= n; i++) {
		if (!((name[i], metric[i]) in value)) { printf "%-70s  (not measured)\n", what[i]; continue }
		v = median(name[i] SUBSEP metric[i])
		if (metric[i] == "ns/op") v = scale(v, unit[i])
		if (target[i] == "-") { printf "%-70s %10.3f %-6s\n", what[i], v, unit[i]; continue }
		ok = above[i] ? v >= target[i] : v <= target[i]
		printf "%-70s %10.3f %-6s target %s %s %-6s %s\n", what[i], v, unit[i], above[i] ? ">=" : "<=", target[i], unit[i], ok ? "ok" : "MISSED"
	}
	print ""
	for (j = 1; j <= NR; j++) print raw[j]
}' "$raw"
