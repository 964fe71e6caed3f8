#!/usr/bin/env bash
set -euo pipefail
# gpu.verify on {{ node.name }}: the NVIDIA driver works. Runs after gpu.driver and after the
# reboot it asked for, and fails unless nvidia-smi lists a GPU, so that a driver that does
# not load stops this node here (the container runtime, the join and the device plugin
# would otherwise come up without a GPU), says why, and is retried by the next apply.
# Changes nothing, except that it loads the nvidia module once when nvidia-smi fails (a
# retry after the cause was fixed, or a module that did not load at boot).
CC_STEP=gpu.verify
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

gpus=$(nvidia-smi -L 2>&1) || true
if ! grep -q '^GPU [0-9]' <<<"$gpus" && modprobe nvidia 2>/dev/null; then
	gpus=$(nvidia-smi -L 2>&1) || true
fi
if grep -q '^GPU [0-9]' <<<"$gpus"; then
	cc_log "nvidia-smi: $(grep -c '^GPU [0-9]' <<<"$gpus") GPU(s): $(grep -m1 '^GPU [0-9]' <<<"$gpus")"
else
	{
		echo "nvidia-smi -L: $gpus"
		echo "kernel: $(uname -r)"
		lsmod | grep -i '^nvidia' || echo "no nvidia kernel module is loaded"
		dpkg-query -W -f='${Package} ${Status}\n' 'nvidia-driver-*' 'linux-modules-nvidia-*' 'nvidia-dkms-*' 2>/dev/null |
			awk '$NF == "installed" { print "installed: " $1 }' || true
	} >&2
	cc_die "the NVIDIA driver does not work on {{ node.name }} after gpu.driver and its reboot"
fi
