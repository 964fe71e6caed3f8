#!/usr/bin/env bash
set -euo pipefail
# kubernetes.kubelet on k8s-node-1: while the node is drained (kubernetes.drain.k8s-node-1),
# kubelet and kubectl to the version kubeadm was upgraded to, CRI-O to its newest
# 1.34 patch (from the repository os.packages set up), each held again;
# daemon-reload and a kubelet restart. kubernetes.uncordon.k8s-node-1 follows. A node
# already at these versions has nothing to do.
CC_STEP=kubernetes.kubelet
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
# ---- upgrade helpers (templates/kubernetes/upgrade-lib.sh) ------------------------
# The order and commands are kubeadm's ("Upgrading kubeadm clusters",
# https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/):
# kubeadm first, to the newest patch of the new minor that `apt-cache madison`
# lists, then `kubeadm upgrade apply` (the first control node) or `kubeadm
# upgrade node` (every other node); then, drained, kubelet and kubectl at the
# same version, daemon-reload, kubelet restarted; each package held again.
K8S_MINOR=1.34
CRIO_MINOR=1.34
cc_valid '^[0-9]+\.[0-9]+$' "$K8S_MINOR" "the Kubernetes version"
cc_valid '^[0-9]+\.[0-9]+$' "$CRIO_MINOR" "the CRI-O version"

# pkg_minor PKG: "1.34" when 1.34.x is installed, empty when PKG is not installed.
pkg_minor() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null | cut -d. -f1,2 || true; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
# newest_patch PKG MINOR: the newest MINOR.x version of PKG the repositories
# have (apt-cache madison lists the newest first), or nothing.
newest_patch() {
	apt-cache madison "$1" | awk -F'|' -v m="$2" '{ gsub(/ /, "", $2); if (index($2, m ".") == 1) { print $2; exit } }'
}
# upgrade_held VERSION PKG...: moves held packages to VERSION: unhold, install, hold.
upgrade_held() {
	local v=$1
	shift
	apt-mark unhold "$@" >/dev/null
	apt-get install -y "${@/%/=$v}"
	apt-mark hold "$@" >/dev/null
	cc_changed "$* $v installed and held"
}

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
