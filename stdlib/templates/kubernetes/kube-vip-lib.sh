# kube-vip helper, included by kubernetes.init and kubernetes.join (HA clusters only).
# kube_vip_write KUBECONFIG: installs the kube-vip static pod from the bundle with this
# node's interface and KUBECONFIG filled in; kubelet restarts the pod when it changes.
NODE_IP={{ node.ip }}
kube_vip_write() {
	local kubeconfig=$1 iface
	iface=$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }')
	[ -n "$iface" ] || cc_die "no interface holds $NODE_IP; kube-vip needs it for the control endpoint"
	cc_valid '^[A-Za-z0-9_.:@-]{1,15}$' "$iface" "interface name"
	cc_write_file /etc/kubernetes/manifests/kube-vip.yaml 0600 < <(sed \
		-e "s|__CLUSTERC_INTERFACE__|$iface|" -e "s|__CLUSTERC_KUBECONFIG__|$kubeconfig|" \
		nodes/{{ node.name }}/kubernetes/kube-vip.yaml)
}
