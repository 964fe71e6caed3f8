#!/bin/bash
# tests/bench/make-plan.sh STEPS_DIR OUT HOST...: a hand-written plan.json
# (format 1, compiler/README.md) for the runner benchmark, so the runner is
# measured apart from the templates: 5 steps per host, each waiting for the
# previous one on the same host, the same five scripts as the other tools
# (copied to nodes/HOST/steps/, as build lays out node steps). The hashes are
# the build's (plan_rehash): the runner recomputes and checks them.
set -euo pipefail
steps=$1 out=$2
shift 2
mkdir -p "$out"
{
	printf '{\n  "format": 1,\n  "cluster": "bench",\n  "cluster_host": "%s",\n' "$1"
	printf '  "phases": ["os"],\n  "hosts": {'
	first=1
	for h in "$@"; do
		[ $first = 1 ] || printf ','
		first=0
		printf '\n    "%s": { "address": "0.0.0.0", "port": 22, "user": "root", "key": "", "role": "worker" }' "$h"
	done
	printf '\n  },\n  "steps": ['
	first=1
	for h in "$@"; do
		mkdir -p "$out/nodes/$h/steps"
		prev=''
		for k in 1 2 3 4 5; do
			rel=nodes/$h/steps/bench.step$k.sh
			cp "$steps/step$k.sh" "$out/$rel"
			id="bench.step$k@$h"
			after='[]'
			[ -n "$prev" ] && after="[\"$prev\"]"
			[ $first = 1 ] || printf ','
			first=0
			printf '\n    { "id": "%s", "name": "bench.step%s", "phase": "os", "host": "%s", "on": "node",\n      "script": "%s", "files": ["%s"], "after": %s,\n      "hash": "", "secrets": [], "inputs": [], "outputs": [], "reboot": false, "timeout": 600 }' \
				"$id" "$k" "$h" "$rel" "$rel" "$after"
			prev=$id
		done
	done
	printf '\n  ]\n}\n'
} >"$out/plan.json"
"${BUILD:-$(dirname "$0")/../../build}/tools/plan_rehash" "$out"
