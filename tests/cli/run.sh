#!/usr/bin/env bash
# tests/cli/run.sh: the operator's commands beside build and apply:
# fmt (fmt.sh), graph (graph.sh), import-env (import_env.sh) and removals
# (removals.sh: removed blocks in the plan; drift and reset usage). Arguments
# name the parts to run (`bash tests/cli/run.sh graph`).
source "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

if [ ! -x "$CLUSTERC_BIN" ]; then
	fail "cli: no clusterc binary at $CLUSTERC_BIN (run make)"
	finish
	exit 1
fi

fixed_env
CLI_ENV=("${FIXED_ENV[@]}")

parts=(fmt graph import_env removals)
[ $# -gt 0 ] && parts=("$@")
for part in "${parts[@]}"; do
	[ -f "$TOP/tests/cli/$part.sh" ] && source "$TOP/tests/cli/$part.sh"
done
finish
