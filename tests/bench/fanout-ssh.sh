#!/bin/bash
# tests/bench/fanout-ssh.sh SSH_CONFIG STEPS_DIR HOST...: the floor of the
# benchmark. One bash chain per host, all hosts in parallel; each chain runs
# step1..step5 in order (a failing step stops that host's chain) over one
# master connection per host (ControlMaster), then closes the master.
# Each ssh runs in its own session (setsid), as parallel-ssh starts its ssh
# processes: on a busy machine the kernel's autogroup scheduler gives every
# session its own share of CPU. FANOUT_SETSID=0 keeps them all in the
# caller's session instead (as a runner that only uses process groups does).
set -euo pipefail
cfg=$1 steps=$2
shift 2
cm=$(mktemp -d /tmp/bench-cm.XXXXXX)
trap 'rm -rf "$cm"' EXIT
# FANOUT_SSH_OPTS: more ssh options, split on blanks (e.g. a -o KexAlgorithms=...).
extra=()
read -r -a extra <<<"${FANOUT_SSH_OPTS:-}"
wrap=(setsid -w)
[ "${FANOUT_SETSID:-1}" = 1 ] || wrap=(env)
chain() {
	local h=$1 s rc=0
	local o=(-F "$cfg" -o ControlMaster=auto -o "ControlPath=$cm/%C" -o ControlPersist=60 "${extra[@]}")
	for s in "$steps"/step[1-5].sh; do
		"${wrap[@]}" ssh "${o[@]}" "$h" bash -s <"$s" >/dev/null || { rc=$?; break; }
	done
	ssh "${o[@]}" -O exit "$h" 2>/dev/null || true
	return "$rc"
}
pids=()
for h in "$@"; do
	chain "$h" &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit "$rc"
