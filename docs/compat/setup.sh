#!/usr/bin/env bash
# Builds the original library's example programs, and _probe (one program
# per difference, -case NAME), twice: against the original library and
# against this module, in $WORK (default /tmp/servicemesh-compat):
# bin-orig/ and bin-new/, and the probe with -race in race-orig/ and
# race-new/. Then run side-by-side.sh (one program) or all.sh (everything).
#
# ORIG: a checkout of the original at the version compared (default: cloned
# from GitHub at the commit below). EXAMPLES: a checkout of the original's
# examples repository (default: cloned from GitHub). NEW: this module
# (default: the repository this script is in).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/servicemesh-compat}
NEW=${NEW:-$(cd "$here/../.." && pwd)}
orig_commit=2c30b7cf8c4dddeea292d5598c5846096fa2a393
examples_commit=7e8cffa77c19f2f7fdd5145e73bb16741197b279
mkdir -p "$WORK"
cd "$WORK"
if [ -z "${ORIG:-}" ]; then
	[ -d orig ] || git clone -q https://github.com/gravestench/servicemesh orig
	git -C orig checkout -q "$orig_commit"
	ORIG=$WORK/orig
fi
if [ -z "${EXAMPLES:-}" ]; then
	[ -d examples ] || git clone -q https://github.com/gravestench/servicemesh-examples examples
	git -C examples checkout -q "$examples_commit"
	EXAMPLES=$WORK/examples
fi
cp "$here/side-by-side.sh" "$here/all.sh" .

# The original's examples that need nothing but the standard library, as
# they are, and the probe.
rm -rf app && mkdir -p app/cmd/events app/cmd/dependency_injection app/internal app/services
for c in bare_minimum config_file graceful_shutdown log_level; do cp -r "$EXAMPLES/cmd/$c" app/cmd/; done
cp -r "$EXAMPLES/cmd/events/custom_events" "$EXAMPLES/cmd/events/runtime_events" app/cmd/events/
cp -r "$EXAMPLES/cmd/dependency_injection/service_dependencies" "$EXAMPLES/cmd/dependency_injection/resolution_failure" app/cmd/dependency_injection/
cp -r "$EXAMPLES/internal/examplemesh" app/internal/
cp -r "$EXAMPLES/services/config_file" app/services/
cp -r "$here/_probe" app/cmd/probe

for v in orig new; do
	target=$ORIG
	[ "$v" = new ] && target=$NEW
	rm -rf "$v-app" && cp -r app "$v-app"
	# The go.mod of a program written for the original, pointed at one of
	# the two by a replace line.
	cat > "$v-app/go.mod" << MOD
module github.com/gravestench/servicemesh-examples

go 1.21.3

require github.com/gravestench/servicemesh v0.0.0-20260805154732-86fb7979229b

replace github.com/gravestench/servicemesh => $target
MOD
	cp "$v-app/go.mod" "$v.go.mod.before"
	(cd "$v-app" && go mod tidy && go build -o "../bin-$v/" ./... && go build -race -o "../race-$v/" ./cmd/probe)
	echo "== $v: what go mod tidy changed in go.mod"
	diff "$v.go.mod.before" "$v-app/go.mod" || true
done
