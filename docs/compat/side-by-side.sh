#!/usr/bin/env bash
# Runs a program built by setup.sh against the original (bin-orig) and
# against this module (bin-new) as a process, sends the signals a case asks for, and
# prints each one's output and exit status, one after the other.
#
#   ./side-by-side.sh PROGRAM [ARGS...]      no signal
#   SIGNALS="1:INT 2:INT" ./side-by-side.sh PROGRAM [ARGS...]
#
# SIGNALS lists "second:SIGNAL" pairs, measured from the start. A process
# still running LIMIT seconds after its start (default 8) is killed with
# SIGKILL, and that is said. BIN=race runs the -race builds instead.
set -um # -m: the programs start with SIGINT not ignored, as from a terminal
cd "$(dirname "$0")"
prog=$1
shift
limit=${LIMIT:-8}
out=$PWD/.out.$$
for v in orig new; do
	echo "----- $v: $prog $*"
	"./${BIN:-bin}-$v/$prog" "$@" > "$out" 2>&1 &
	pid=$!
	t=0
	for s in ${SIGNALS:-}; do
		at=${s%%:*}
		sleep "$(echo "$at - $t" | bc)"
		t=$at
		kill -s "${s##*:}" "$pid" 2> /dev/null && echo "(sent SIG${s##*:} at ${at}s)"
	done
	( sleep "$(echo "$limit - $t" | bc)"; kill -s KILL "$pid" 2> /dev/null ) &
	killer=$!
	wait "$pid" 2> /dev/null
	status=$?
	kill "$killer" 2> /dev/null
	wait "$killer" 2> /dev/null
	cat "$out"
	if [ "$status" = 137 ]; then
		echo "(still running at ${limit}s: killed with SIGKILL)"
	else
		echo "(exit status $status)"
	fi
done
rm -f "$out"
