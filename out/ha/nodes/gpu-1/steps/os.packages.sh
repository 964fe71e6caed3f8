#!/usr/bin/env bash
set -euo pipefail
# os.packages on gpu-1: APT repositories for Kubernetes v1.34
# (pkgs.k8s.io) and CRI-O v1.34 (the isv:cri-o project on
# download.opensuse.org, where CRI-O moved from pkgs.k8s.io in 2025), each with its own
# signed-by keyring; cri-o, kubelet, kubeadm and kubectl installed and held so an
# `apt upgrade` never moves the cluster version.
CC_STEP=os.packages
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

K8S_MINOR=1.34
CRIO_MINOR=1.34
cc_valid '^[0-9]+\.[0-9]+$' "$K8S_MINOR" "the Kubernetes version"
cc_valid '^[0-9]+\.[0-9]+$' "$CRIO_MINOR" "the CRI-O version"

k8s_url="https://pkgs.k8s.io/core:/stable:/v$K8S_MINOR/deb/"
cc_apt_repo kubernetes "${k8s_url}Release.key" /etc/apt/keyrings/kubernetes-apt-keyring.gpg \
	"deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] $k8s_url /"
crio_url="https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v$CRIO_MINOR/deb/"
cc_apt_repo cri-o "${crio_url}Release.key" /etc/apt/keyrings/cri-o-apt-keyring.gpg \
	"deb [signed-by=/etc/apt/keyrings/cri-o-apt-keyring.gpg] $crio_url /"

# A held package stays at the version it was installed with. After a version bump in the
# cluster file the node keeps its packages (kubelet must never be newer than the control
# plane; upgrading a running cluster is kubeadm upgrade's job, done deliberately), and
# this step says so.
for p in cri-o kubelet kubeadm kubectl; do
	v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
	case $p in cri-o) want=$CRIO_MINOR ;; *) want=$K8S_MINOR ;; esac
	if [ -n "$v" ] && [ "${v#"$want".}" = "$v" ]; then
		cc_warn "$p $v is installed, the cluster file says $want (not upgraded here)"
	fi
done

cc_apt_install cri-o kubelet kubeadm kubectl
cc_apt_hold cri-o kubelet kubeadm kubectl
cc_service_enable crio
# kubelet restarts in a loop until kubeadm init/join writes its configuration; enabling
# it now is what kubeadm's preflight expects.
if ! systemctl is-enabled --quiet kubelet 2>/dev/null; then
	systemctl enable kubelet
	cc_changed "enabled kubelet"
fi
