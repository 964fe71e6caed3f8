#!/usr/bin/env bash
set -euo pipefail
# kubernetes.upgrade on metal-3: kubeadm to Kubernetes v1.34, then
# `kubeadm upgrade node` (the kubelet configuration). Runs after
# metal-2 is upgraded and back in service; kubernetes.drain.metal-3 and
# kubernetes.kubelet follow. A node already at 1.34 (every node of a cluster
# set up at this version) has nothing to do: the step checks and exits.
CC_STEP=kubernetes.upgrade
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

control_plane_minor() {
	sed -n 's|.*image: .*/kube-apiserver:v\([0-9]*\.[0-9]*\)\..*|\1|p' \
		/etc/kubernetes/manifests/kube-apiserver.yaml 2>/dev/null | head -n 1
}
behind() { [ "$(pkg_minor kubelet)" != "$K8S_MINOR" ]; }
if ! behind; then
	cc_log "kubelet are at $K8S_MINOR: nothing to upgrade"
	exit 0
fi
[ -f /etc/kubernetes/kubelet.conf ] || cc_die "the node has not joined a cluster: nothing to upgrade"

if [ "$(pkg_minor kubeadm)" != "$K8S_MINOR" ]; then
	# os.packages moved the repository to the new minor; read it.
	apt-get update
	v=$(newest_patch kubeadm "$K8S_MINOR")
	[ -n "$v" ] || cc_die "apt-cache madison kubeadm lists no $K8S_MINOR version: is the repository of v$K8S_MINOR set up (os.packages)?"
	upgrade_held "$v" kubeadm
fi
target=v$(pkg_version kubeadm)
target=${target%%-*}
cc_valid '^v[0-9]+\.[0-9]+\.[0-9]+$' "$target" "the kubeadm version"
kubeadm upgrade node
cc_changed "kubelet configuration upgraded for $target (kubeadm upgrade node)"
