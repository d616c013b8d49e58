#!/usr/bin/env bash
# Every side-by-side run of docs/compatibility.md, in its order; run it in
# the directory setup.sh built (where setup.sh copies it).
cd "$(dirname "$0")"
r() { echo; echo "######## $*"; env "$@"; }
r ./side-by-side.sh probe -case events
r ./side-by-side.sh probe -case name
r SIGNALS=1:INT ./side-by-side.sh probe -case signal
r SIGNALS=1:TERM ./side-by-side.sh probe -case signal
r SIGNALS=1:INT LIMIT=4 ./side-by-side.sh probe -case signal-before-run
r SIGNALS="1:INT 2:INT" ./side-by-side.sh probe -case slow-stop
r SIGNALS=1:INT LIMIT=35 ./side-by-side.sh probe -case hung-stop
r ./side-by-side.sh probe -case shutdown-returns
r ./side-by-side.sh probe -case stop-order
r ./side-by-side.sh probe -case never-started
r ./side-by-side.sh probe -case own-events
r ./side-by-side.sh probe -case removed-handlers
r ./side-by-side.sh probe -case remove-pending
r ./side-by-side.sh probe -case add-after-shutdown
r ./side-by-side.sh probe -case dup-add
r ./side-by-side.sh probe -case run-after-shutdown
r ./side-by-side.sh probe -case init-order
r ./side-by-side.sh probe -case resolve-timeout
r ./side-by-side.sh probe -case init-panic
r ./side-by-side.sh probe -case log-texts
r ./side-by-side.sh probe -case loglevel-keeps-handler
r BIN=race ./side-by-side.sh probe -case setlogger-race
r ./side-by-side.sh probe -case polls
r ./side-by-side.sh probe -case late-provider
r ./side-by-side.sh probe -case chain
r LIMIT=10 ./side-by-side.sh probe -case slow-start
r SIGNALS=1:INT ./side-by-side.sh bare_minimum
r ./side-by-side.sh graceful_shutdown
r SIGNALS=1:INT ./side-by-side.sh log_level
r ./side-by-side.sh runtime_events
r SIGNALS=4.5:INT ./side-by-side.sh custom_events
r SIGNALS=1:INT ./side-by-side.sh service_dependencies
r ./side-by-side.sh resolution_failure
mkdir -p home
r HOME=$PWD/home SIGNALS=1:INT ./side-by-side.sh config_file
