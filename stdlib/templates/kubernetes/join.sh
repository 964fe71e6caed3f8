#!/usr/bin/env bash
set -euo pipefail
# kubernetes.join on {{ node.name }}: kubeadm join as a {{#if node.role == "control"}}control-plane node (one at a time: etcd
# grows by one member per join){{else}}worker{{/if}}, through the control endpoint
# {{ cluster.control_endpoint }}. Skipped when /etc/kubernetes/kubelet.conf exists (joined).
CC_STEP=kubernetes.join
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
{{#if node.role == "control"}}
{{> templates/kubernetes/kube-vip-lib.sh }}

# Control-plane joins go one at a time: each adds an etcd member, and two at once can
# cost the quorum. Besides the order in the plan, this step waits until every control
# node listed before this one in the cluster file carries the control-plane label, which
# kubeadm join sets last. It asks the API server with the bootstrap token (kubeadm lets
# it get nodes), trusting only the CA whose key hash the first control node handed over.
earlier=({{#each controls as c}}{{#if c.control_index < node.control_index and not c.first_control}} {{ c.name }}{{/if}}{{/each}})
wait_for_controls() {
	local token=$1 hash=$2 dir n i server
	shift 2
	server="https://"{{ cluster.control_endpoint }}:{{ cluster.api_port }}
	cc_tmpdir dir
	# cluster-info is public; its CA is accepted only when its key hash matches.
	cc_retry 60 5 curl -fsSk -o "$dir/cluster-info.json" "$server/api/v1/namespaces/kube-public/configmaps/cluster-info"
	grep -o 'certificate-authority-data: [A-Za-z0-9+/=]*' "$dir/cluster-info.json" | head -n 1 |
		cut -d' ' -f2 | base64 -d >"$dir/ca.crt"
	[ "sha256:$(openssl x509 -pubkey -noout -in "$dir/ca.crt" | openssl pkey -pubin -outform der |
		sha256sum | cut -d' ' -f1)" = "$hash" ] || cc_die "the API server's CA does not match the CA key hash"
	(umask 077 && cat >"$dir/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority: "$dir/ca.crt"}}]
users: [{name: u, user: {token: "$token"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
KUBECONFIG
	)
	for n in "$@"; do
		cc_log "waiting for control node $n to finish joining"
		for ((i = 0; ; i++)); do
			if grep -q '"node-role.kubernetes.io/control-plane"' <<<"$(kubectl --kubeconfig "$dir/kubeconfig" \
				get node "$n" -o jsonpath='{.metadata.labels}' 2>/dev/null)"; then
				break
			fi
			[ "$i" -lt 720 ] || cc_die "control node $n has not joined after an hour"
			sleep 5
		done
	done
	rm -rf "$dir"
}
{{/if}}

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
{{#if node.role == "control"}}
	key=$(cc_in join_cert_key)
	cc_valid '^[0-9a-f]{64}$' "$key" "the certificate key"
	if [ ${#earlier[@]} -gt 0 ]; then
		wait_for_controls "$token" "$hash" "${earlier[@]}"
	fi
{{else}}
	key=
{{/if}}
	cfg=/etc/kubernetes/clusterc/kubeadm-join.yaml
	mkdir -p /etc/kubernetes/clusterc
	cc_remove_at_exit "$cfg"
	(umask 077 && sed -e "s|__CLUSTERC_TOKEN__|$token|" -e "s|__CLUSTERC_CA_HASH__|$hash|" \
		-e "s|__CLUSTERC_CERT_KEY__|$key|" nodes/{{ node.name }}/kubernetes/kubeadm-join.yaml >"$cfg")
	kubeadm join --config "$cfg"
	rm -f "$cfg"
	cc_changed "kubeadm join"
fi
{{#if node.role == "control"}}
kube_vip_write /etc/kubernetes/admin.conf
{{/if}}
