#!/bin/bash
# tests/bench/reset-hosts.sh LABDIR HOST...: undo what the benchmark steps did
# on each host (and the runner's remembered hashes), from inside the hosts, so
# the next run is a first run again. Not timed (hyperfine --prepare).
set -euo pipefail
lab=$1
shift
lab_sh=$(dirname "$0")/../lab/lab.sh
# shellcheck disable=SC2016 # runs inside the host
printf '%s\n' "$@" | xargs -P 8 -I{} bash "$lab_sh" exec "$lab/{}" -- /bin/bash -c '
	rm -rf /etc/bench /var/lib/bench /etc/sysctl.d/90-bench.conf /var/lib/clusterc/* /var/lib/clusterc/.[!.]* /root/.ansible
	for f in /var/lib/clusterc-lab/dpkg/installed /var/lib/clusterc-lab/systemd/active /var/lib/clusterc-lab/systemd/enabled; do
		[ -f "$f" ] && sed -i "/^bench/d" "$f"
	done
	exit 0'
