#!/usr/bin/env bash
set -euo pipefail
# kubernetes.join on {{ node.name }}: kubeadm join as a {{#if node.role == "control"}}control-plane node (one at a time: etcd
# grows by one member per join){{else}}worker{{/if}}, through the control endpoint
# {{ cluster.control_endpoint }}. Skipped when /etc/kubernetes/kubelet.conf exists (joined).
CC_STEP=kubernetes.join
{{> templates/lib/prelude.sh }}
{{#if node.role == "control"}}
{{> templates/kubernetes/kube-vip-lib.sh }}
{{/if}}

if [ -f /etc/kubernetes/kubelet.conf ]; then
	cc_log "already joined (/etc/kubernetes/kubelet.conf exists)"
else
	token=$(cc_in join_token)
	hash=$(cc_in join_ca_hash)
	[ -n "$token" ] || cc_die "no join token: the first control node saw this node registered already"
	cc_valid '^[a-z0-9]{6}\.[a-z0-9]{16}$' "$token" "the bootstrap token"
	cc_valid '^sha256:[0-9a-f]{64}$' "$hash" "the CA key hash"
{{#if node.role == "control"}}
	key=$(cc_in join_cert_key)
	cc_valid '^[0-9a-f]{64}$' "$key" "the certificate key"
{{else}}
	key=
{{/if}}
	cfg=/etc/kubernetes/clusterc/kubeadm-join.yaml
	mkdir -p /etc/kubernetes/clusterc
	trap 'rm -f "$cfg"; cc_finish' EXIT
	(umask 077 && sed -e "s|__CLUSTERC_TOKEN__|$token|" -e "s|__CLUSTERC_CA_HASH__|$hash|" \
		-e "s|__CLUSTERC_CERT_KEY__|$key|" nodes/{{ node.name }}/kubernetes/kubeadm-join.yaml >"$cfg")
	kubeadm join --config "$cfg"
	rm -f "$cfg"
	cc_changed "kubeadm join"
fi
{{#if node.role == "control"}}
kube_vip_write /etc/kubernetes/admin.conf
{{/if}}
