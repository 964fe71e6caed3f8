# ---- upgrade helpers (templates/kubernetes/upgrade-lib.sh) ------------------------
# The order and commands are kubeadm's ("Upgrading kubeadm clusters",
# https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/):
# kubeadm first, to the newest patch of the new minor that `apt-cache madison`
# lists, then `kubeadm upgrade apply` (the first control node) or `kubeadm
# upgrade node` (every other node); then, drained, kubelet and kubectl at the
# same version, daemon-reload, kubelet restarted; each package held again.
K8S_MINOR={{ cluster.kubernetes }}
CRIO_MINOR={{ cluster.crio }}
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
