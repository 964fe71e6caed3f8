#!/usr/bin/env bash
set -euo pipefail
# kubernetes.init on cp-1: kubeadm init of ha from the reviewed
# configuration nodes/cp-1/kubernetes/kubeadm-init.yaml. Skipped when
# /etc/kubernetes/admin.conf exists (the cluster is initialised). The
# kube-vip static pod serves the control endpoint 10.20.0.10.
CC_STEP=kubernetes.init
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
# kube-vip helper, included by kubernetes.init and kubernetes.join (HA clusters only).
# kube_vip_write KUBECONFIG: installs the kube-vip static pod from the bundle with this
# node's interface and KUBECONFIG filled in; kubelet restarts the pod when it changes.
NODE_IP=10.20.0.11
kube_vip_write() {
	local kubeconfig=$1 iface
	iface=$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }')
	[ -n "$iface" ] || cc_die "no interface holds $NODE_IP; kube-vip needs it for the control endpoint"
	cc_valid '^[A-Za-z0-9_.:@-]{1,15}$' "$iface" "interface name"
	cc_write_file /etc/kubernetes/manifests/kube-vip.yaml 0600 < <(sed \
		-e "s|__CLUSTERC_INTERFACE__|$iface|" -e "s|__CLUSTERC_KUBECONFIG__|$kubeconfig|" \
		nodes/cp-1/kubernetes/kube-vip.yaml)
}

if [ -f /etc/kubernetes/admin.conf ]; then
	cc_log "already initialised (/etc/kubernetes/admin.conf exists)"
elif cc_check_only; then
	# Nothing after this can be checked on a node that has no cluster yet.
	cc_changed "kubeadm init has not run (no /etc/kubernetes/admin.conf)"
	exit 0
else
	kube_vip_write /etc/kubernetes/super-admin.conf
	version=$(kubeadm version -o short)
	cc_valid '^v[0-9]+\.[0-9]+\.[0-9]+$' "$version" "kubeadm's version"
	case $version in
	v1.34.*) ;;
	*) cc_die "kubeadm is $version, the cluster file asks for 1.34" ;;
	esac
	cc_write_file /etc/kubernetes/clusterc/kubeadm-init.yaml 0600 < <(sed \
		"s|__CLUSTERC_KUBERNETES_VERSION__|$version|" nodes/cp-1/kubernetes/kubeadm-init.yaml)
	kubeadm init --config /etc/kubernetes/clusterc/kubeadm-init.yaml --skip-token-print
	cc_changed "kubeadm init ($version)"
fi
# From now on kube-vip uses admin.conf, as on the other control nodes.
kube_vip_write /etc/kubernetes/admin.conf

# kubectl for root on this node (the cluster steps run here).
if [ ! -f /root/.kube/config ] || ! cmp -s /etc/kubernetes/admin.conf /root/.kube/config; then
	cc_write_file /root/.kube/config 0600 </etc/kubernetes/admin.conf
fi
export KUBECONFIG=/etc/kubernetes/admin.conf
cc_retry 60 5 kubectl get node cp-1 -o name >/dev/null
