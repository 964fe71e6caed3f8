#!/usr/bin/env bash
set -euo pipefail
# kubernetes.join on k8s-node-1: kubeadm join as a worker, through the control endpoint
# 192.168.1.180. Skipped when /etc/kubernetes/kubelet.conf exists (joined).
CC_STEP=kubernetes.join
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

if [ -f /etc/kubernetes/kubelet.conf ]; then
	cc_log "already joined (/etc/kubernetes/kubelet.conf exists)"
elif cc_check_only; then
	cc_changed "kubeadm join has not run (no /etc/kubernetes/kubelet.conf)"
else
	token=$(cc_in join_token)
	hash=$(cc_in join_ca_hash)
	[ -n "$token" ] || cc_die "no join token: the first control node saw this node registered already"
	cc_valid '^[a-z0-9]{6}\.[a-z0-9]{16}$' "$token" "the bootstrap token"
	cc_valid '^sha256:[0-9a-f]{64}$' "$hash" "the CA key hash"
	key=
	cfg=/etc/kubernetes/clusterc/kubeadm-join.yaml
	mkdir -p /etc/kubernetes/clusterc
	trap 'rm -f "$cfg"; cc_finish' EXIT
	(umask 077 && sed -e "s|__CLUSTERC_TOKEN__|$token|" -e "s|__CLUSTERC_CA_HASH__|$hash|" \
		-e "s|__CLUSTERC_CERT_KEY__|$key|" nodes/k8s-node-1/kubernetes/kubeadm-join.yaml >"$cfg")
	kubeadm join --config "$cfg"
	rm -f "$cfg"
	cc_changed "kubeadm join"
fi
