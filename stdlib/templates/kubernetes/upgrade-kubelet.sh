#!/usr/bin/env bash
set -euo pipefail
# kubernetes.kubelet on {{ node.name }}: while the node is drained (kubernetes.drain.{{ node.name }}),
# kubelet and kubectl to the version kubeadm was upgraded to, CRI-O to its newest
# {{ cluster.crio }} patch (from the repository os.packages set up), each held again;
# daemon-reload and a kubelet restart. kubernetes.uncordon.{{ node.name }} follows. A node
# already at these versions has nothing to do.
CC_STEP=kubernetes.kubelet
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
{{> templates/kubernetes/upgrade-lib.sh }}

if [ "$(pkg_minor kubelet)" = "$K8S_MINOR" ] && [ "$(pkg_minor kubectl)" = "$K8S_MINOR" ] &&
	[ "$(pkg_minor cri-o)" = "$CRIO_MINOR" ]; then
	cc_log "kubelet, kubectl and CRI-O are at $K8S_MINOR/$CRIO_MINOR: nothing to upgrade"
	exit 0
fi
[ "$(pkg_minor kubeadm)" = "$K8S_MINOR" ] ||
	cc_die "kubeadm is $(pkg_version kubeadm), not $K8S_MINOR: kubernetes.upgrade did not finish"
v=$(pkg_version kubeadm)
if [ "$(pkg_minor cri-o)" != "$CRIO_MINOR" ]; then
	apt-get update
	cv=$(newest_patch cri-o "$CRIO_MINOR")
	[ -n "$cv" ] || cc_die "apt-cache madison cri-o lists no $CRIO_MINOR version: is the repository of v$CRIO_MINOR set up (os.packages)?"
	upgrade_held "$cv" cri-o
	systemctl restart crio
fi
if [ "$(pkg_version kubelet)" != "$v" ] || [ "$(pkg_version kubectl)" != "$v" ]; then
	upgrade_held "$v" kubelet kubectl
fi
systemctl daemon-reload
systemctl restart kubelet
cc_changed "kubelet restarted at $v"
