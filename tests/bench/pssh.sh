#!/bin/bash
# tests/bench/pssh.sh SSH_CONFIG STEPS_DIR HOSTS_FILE N: parallel-ssh, one
# invocation per step (a barrier between steps, as pssh works), all hosts at
# once (-p N), the script on standard input (-I), connections reused across
# the five steps with ControlMaster, closed at the end.
set -euo pipefail
cfg=$1 steps=$2 hosts=$3 n=$4
cm=$(mktemp -d /tmp/bench-cm.XXXXXX)
opts="-F $cfg -o ControlMaster=auto -o ControlPath=$cm/%C -o ControlPersist=60"
cleanup() {
	local h
	while read -r h; do ssh -F "$cfg" -o "ControlPath=$cm/%C" -O exit "$h" 2>/dev/null || true; done <"$hosts"
	rm -rf "$cm"
}
trap cleanup EXIT
for s in "$steps"/step[1-5].sh; do
	parallel-ssh -h "$hosts" -p "$n" -t 0 -x "$opts" -I bash -s <"$s" >/dev/null
done
