#!/usr/bin/env bash
# Runs every benchmark of this module side by side in one `go test` run,
# keeps the raw output in results.txt (benchstat can read it), and
# regenerates the results section of README.md from it.
#
#   bash benchmarks/run.sh              # from the repository root
#   make -C benchmarks bench            # the same
#
# COUNT and BENCHTIME override the number of runs and the time per
# benchmark; BENCH selects benchmarks (a go test -bench pattern). With the
# defaults the run takes about eight minutes on 2 cores, three of them S5
# (untimed set-up of many chains, fx's above all).
set -euo pipefail

cd "$(dirname "$0")"

count="${COUNT:-5}"
benchtime="${BENCHTIME:-1s}"
bench="${BENCH:-.}"
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

cmd="go test -run '^\$' -bench '${bench}' -count=${count} -benchtime=${benchtime}"
echo "running: ${cmd}" >&2
go test -run '^$' -bench "${bench}" -count="${count}" -benchtime="${benchtime}" -timeout 30m | tee "${out}"

go run ./cmd/table -in "${out}" -readme README.md -gomod go.mod -rev "${rev}" -cmd "${cmd}" -note "${note}"
