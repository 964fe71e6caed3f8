#!/usr/bin/env bash
set -euo pipefail
# kubernetes.kubelet on {{ node.name }}: while the node is drained (kubernetes.drain.{{ node.name }}),
# kubelet and kubectl to the version kubeadm was upgraded to, CRI-O to its newest
# {{ cluster.crio }} patch, each held again; daemon-reload and a kubelet restart.
# kubernetes.uncordon.{{ node.name }} follows. The commands are in common/upgrade.sh.
CC_STEP=kubernetes.kubelet
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
# shellcheck source=SCRIPTDIR/../../../common/upgrade.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/upgrade.sh"
upgrade_kubelet
