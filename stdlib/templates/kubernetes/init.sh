#!/usr/bin/env bash
set -euo pipefail
# kubernetes.init on {{ node.name }}: kubeadm init of {{ cluster.name }} from the reviewed
# configuration nodes/{{ node.name }}/kubernetes/kubeadm-init.yaml. Skipped when
# /etc/kubernetes/admin.conf exists (the cluster is initialised).{{#if cluster.ha}} The
# kube-vip static pod serves the control endpoint {{ cluster.control_endpoint }}.{{/if}}
CC_STEP=kubernetes.init
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
{{#if cluster.ha}}
{{> templates/kubernetes/kube-vip-lib.sh }}
{{/if}}

if [ -f /etc/kubernetes/admin.conf ]; then
	cc_log "already initialised (/etc/kubernetes/admin.conf exists)"
elif cc_check_only; then
	# Nothing after this can be checked on a node that has no cluster yet.
	cc_changed "kubeadm init has not run (no /etc/kubernetes/admin.conf)"
	exit 0
else
{{#if cluster.ha}}
	kube_vip_write /etc/kubernetes/super-admin.conf
{{/if}}
	version=$(kubeadm version -o short)
	cc_valid '^v[0-9]+\.[0-9]+\.[0-9]+$' "$version" "kubeadm's version"
	case $version in
	v{{ cluster.kubernetes }}.*) ;;
	*) cc_die "kubeadm is $version, the cluster file asks for {{ cluster.kubernetes }}" ;;
	esac
	cc_write_file /etc/kubernetes/clusterc/kubeadm-init.yaml 0600 < <(sed \
		"s|__CLUSTERC_KUBERNETES_VERSION__|$version|" nodes/{{ node.name }}/kubernetes/kubeadm-init.yaml)
	kubeadm init --config /etc/kubernetes/clusterc/kubeadm-init.yaml --skip-token-print
	cc_changed "kubeadm init ($version)"
fi
{{#if cluster.ha}}
# From now on kube-vip uses admin.conf, as on the other control nodes.
kube_vip_write /etc/kubernetes/admin.conf
{{/if}}

# kubectl for root on this node (the cluster steps run here).
if [ ! -f /root/.kube/config ] || ! cmp -s /etc/kubernetes/admin.conf /root/.kube/config; then
	cc_write_file /root/.kube/config 0600 </etc/kubernetes/admin.conf
fi
export KUBECONFIG=/etc/kubernetes/admin.conf
cc_retry 60 5 kubectl get node {{ node.name }} -o name >/dev/null
