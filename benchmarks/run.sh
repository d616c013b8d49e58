#!/usr/bin/env bash
# Runs the comparative benchmarks of this module (S1-S4, the Require chain
# and fan-in) for servicemesh, fx and do in interleaved rounds, keeps the
# raw output in results.txt (benchstat can read it), and regenerates the
# results section of README.md from it.
#
#   bash benchmarks/run.sh              # from the repository root
#   make -C benchmarks bench            # the same
#
# The test binary is built once. Each round then runs every scenario once
# for each peer and each -cpu value (-test.count 1), so a slow minute of a
# shared machine slows one round of all three peers alike, not every run
# of one of them; the table takes the median of the rounds.
#
# COUNT: rounds (5). BENCHTIME: time per benchmark and round (1s). CPUS:
# the GOMAXPROCS values (2,16). BENCH: the benchmarks of each round (a
# -test.bench pattern). EXTRA=1 adds to each round, at the machine's
# GOMAXPROCS, the benchmarks outside the table's bars (S1 at 10k, S5, O1,
# O2, Scale, Remove, Fan-out, Require waiters, Readyz, supervision); with
# them a round takes about 1.5 minutes more. With the defaults the run
# takes about five minutes on 2 cores (a round about 50 s, plus the build).
set -euo pipefail

cd "$(dirname "$0")"

count="${COUNT:-5}"
benchtime="${BENCHTIME:-1s}"
cpus="${CPUS:-2,16}"
bench="${BENCH:-^Benchmark(S[1-4]|RequireChain|RequireFanIn)\$}"
extra_bench='^Benchmark(S1Large|S5|RequireWaiters|O1|O2|Scale|Remove|FanOut|Readyz|ServeBackoff|Restart)$'
out="${OUT:-results.txt}"

# The revision of servicemesh being measured (read-only git queries).
rev="local checkout"
if commit="$(git -C .. rev-parse --short HEAD 2>/dev/null)"; then
	rev="commit ${commit}"
	if [ -n "$(git -C .. status --porcelain --untracked-files=no -- ':!benchmarks' 2>/dev/null)" ]; then
		rev="${rev} with uncommitted changes"
	fi
fi

# Benchmarks on a busy machine are noisy; say so rather than stay silent.
note=""
if [ -r /proc/loadavg ]; then
	load="$(cut -d' ' -f1 /proc/loadavg)"
	cores="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
	note="load average ${load} when the run started"
	if awk -v l="${load}" -v c="${cores}" 'BEGIN { exit !(l > c / 2) }'; then
		echo "warning: load average ${load} on ${cores} cores: other work will skew the results" >&2
	fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
bin="${tmp}/benchmarks.test"

start="$(date +%s)"
go test -c -o "${bin}" .

: >"${out}"
for round in $(seq 1 "${count}"); do
	echo "round ${round} of ${count}" >&2
	"${bin}" -test.run '^$' -test.bench "${bench}" -test.benchmem -test.count 1 \
		-test.cpu "${cpus}" -test.benchtime "${benchtime}" -test.timeout 30m | tee -a "${out}"
	if [ "${EXTRA:-0}" = 1 ]; then
		"${bin}" -test.run '^$' -test.bench "${extra_bench}" -test.benchmem -test.count 1 \
			-test.benchtime "${benchtime}" -test.timeout 30m | tee -a "${out}"
	fi
done
took="$(($(date +%s) - start))"
note="${note:+${note}; }${count} rounds in $((took / 60)) min $((took % 60)) s"
echo "${count} rounds took ${took} s" >&2

cmd="bash run.sh: ${count} rounds of benchmarks.test -test.bench '${bench}' -test.cpu ${cpus} -test.count 1 -test.benchtime ${benchtime}"
if [ "${EXTRA:-0}" = 1 ]; then
	cmd="${cmd}, then -test.bench '${extra_bench}'"
fi
go run ./cmd/table -in "${out}" -readme README.md -gomod go.mod -rev "${rev}" -cmd "${cmd}" -note "${note}"
