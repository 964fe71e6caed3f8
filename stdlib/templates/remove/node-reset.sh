#!/usr/bin/env bash
set -euo pipefail
# node.reset for {{ cluster.name }}: what `clusterc reset NODE` runs on NODE (compiler/run/reset.c),
# after a confirmation that names what is lost. It undoes kubeadm init/join on this node and
# forgets what clusterc did here, so the next apply sets the node up again from the start:
#   - `kubeadm reset -f`: the node's Kubernetes state (/etc/kubernetes: certificates,
#     kubeconfigs, static pods; /var/lib/kubelet; on a control node its etcd member's data);
#   - what kubeadm reset says it leaves: the CNI configuration (/etc/cni/net.d), the
#     iptables and IPVS rules, and root's kubeconfig (/root/.kube/config);
#   - clusterc's records of this cluster here (/var/lib/clusterc/{{ cluster.name }}/state/).
# Packages, files outside these and the machine itself stay. Nothing is asked here: the
# runner asked before it started.
CC_STEP=node.reset
# shellcheck source=SCRIPTDIR/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/prelude.sh"

if command -v kubeadm >/dev/null; then
	kubeadm reset -f
	cc_changed "kubeadm reset -f"
else
	cc_log "no kubeadm here: nothing for kubeadm reset"
fi
if compgen -G '/etc/cni/net.d/*' >/dev/null; then
	rm -rf /etc/cni/net.d/*
	cc_changed "removed the CNI configuration (/etc/cni/net.d)"
fi
# The rules kube-proxy and the CNI left: every table flushed, the chains deleted.
for ipt in iptables ip6tables; do
	command -v "$ipt" >/dev/null || continue
	for table in filter nat mangle raw; do
		"$ipt" -t "$table" -F 2>/dev/null || true
		"$ipt" -t "$table" -X 2>/dev/null || true
	done
	cc_changed "flushed the $ipt rules"
done
if command -v ipvsadm >/dev/null; then
	ipvsadm --clear
	cc_changed "cleared the IPVS tables"
fi
cc_remove_file /root/.kube/config
state=/var/lib/clusterc/{{ cluster.name }}/state
if compgen -G "$state/*" >/dev/null; then
	rm -f "$state"/*
	cc_changed "removed clusterc's records ($state): the next apply runs every step here again"
fi
