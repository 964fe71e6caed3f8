#!/usr/bin/env bash
set -euo pipefail
# kubernetes.join on cp-2: kubeadm join as a control-plane node (one at a time: etcd
# grows by one member per join), through the control endpoint
# 10.20.0.10. Skipped when /etc/kubernetes/kubelet.conf exists (joined).
CC_STEP=kubernetes.join
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
# kube-vip helper, included by kubernetes.init and kubernetes.join (HA clusters only).
# kube_vip_write KUBECONFIG: installs the kube-vip static pod from the bundle with this
# node's interface and KUBECONFIG filled in; kubelet restarts the pod when it changes.
NODE_IP=10.20.0.12
kube_vip_write() {
	local kubeconfig=$1 iface
	iface=$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }')
	[ -n "$iface" ] || cc_die "no interface holds $NODE_IP; kube-vip needs it for the control endpoint"
	cc_valid '^[A-Za-z0-9_.:@-]{1,15}$' "$iface" "interface name"
	cc_write_file /etc/kubernetes/manifests/kube-vip.yaml 0600 < <(sed \
		-e "s|__CLUSTERC_INTERFACE__|$iface|" -e "s|__CLUSTERC_KUBECONFIG__|$kubeconfig|" \
		nodes/cp-2/kubernetes/kube-vip.yaml)
}

# Control-plane joins go one at a time: each adds an etcd member, and two at once can
# cost the quorum. Besides the order in the plan, this step waits until every control
# node listed before this one in the cluster file carries the control-plane label, which
# kubeadm join sets last. It asks the API server with the bootstrap token (kubeadm lets
# it get nodes), trusting only the CA whose key hash the first control node handed over.
earlier=()
wait_for_controls() {
	local token=$1 hash=$2 dir n i server
	shift 2
	server="https://"10.20.0.10:6443
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"; cc_finish' EXIT
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
			if kubectl --kubeconfig "$dir/kubeconfig" get node "$n" -o jsonpath='{.metadata.labels}' 2>/dev/null |
				grep -q '"node-role.kubernetes.io/control-plane"'; then
				break
			fi
			[ "$i" -lt 720 ] || cc_die "control node $n has not joined after an hour"
			sleep 5
		done
	done
	rm -rf "$dir"
	trap cc_finish EXIT
}

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
	key=$(cc_in join_cert_key)
	cc_valid '^[0-9a-f]{64}$' "$key" "the certificate key"
	if [ ${#earlier[@]} -gt 0 ]; then
		wait_for_controls "$token" "$hash" "${earlier[@]}"
	fi
	cfg=/etc/kubernetes/clusterc/kubeadm-join.yaml
	mkdir -p /etc/kubernetes/clusterc
	trap 'rm -f "$cfg"; cc_finish' EXIT
	(umask 077 && sed -e "s|__CLUSTERC_TOKEN__|$token|" -e "s|__CLUSTERC_CA_HASH__|$hash|" \
		-e "s|__CLUSTERC_CERT_KEY__|$key|" nodes/cp-2/kubernetes/kubeadm-join.yaml >"$cfg")
	kubeadm join --config "$cfg"
	rm -f "$cfg"
	cc_changed "kubeadm join"
fi
kube_vip_write /etc/kubernetes/admin.conf
