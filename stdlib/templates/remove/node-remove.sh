#!/usr/bin/env bash
set -euo pipefail
# node.remove for {{ node.name }}, a {{ node.role }} node the cluster file no longer names: drain it,
# delete its Node{{#if node.role == "control"}} and remove its etcd member{{/if}}, from the first control node. Each part
# checks first, so a second run after success changes nothing. The drain is never
# forced: a PodDisruptionBudget that blocks it fails the step, and the node stays.
{{#if node.role == "control"}}
# The etcd member goes the way kubeadm reset removes its own (phase remove-etcd-member):
# found by name in `member list`, removed by ID, through the local etcd pod's etcdctl
# and the server certificate kubeadm wrote. kubeadm-config's ClusterStatus, which
# kubeadm before v1.22 also edited, no longer exists in the pinned version, so there
# is nothing else to clean up.
{{/if}}
CC_STEP=node.remove
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
export KUBECONFIG=/etc/kubernetes/admin.conf

node={{ node.name }}

if kubectl get node "$node" -o name >/dev/null 2>&1; then
	if ! kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=600s; then
		cc_die "cannot drain $node (a PodDisruptionBudget or a pod without a controller blocks" \
			"it; see the lines above). Make room for its pods, or drain it by hand, and apply again"
	fi
	cc_changed "drained $node"
	kubectl delete node "$node"
	cc_changed "deleted Node $node"
else
	cc_log "Node $node is not registered: nothing to drain or delete"
fi
{{#if node.role == "control"}}

etcdctl() {
	kubectl -n kube-system exec "etcd-"{{ first_control.name }} -- etcdctl \
		--endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt \
		--cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key "$@"
}
# member list -w simple: ID, status, name, peer URLs, client URLs, learner
members=$(etcdctl member list -w simple) || cc_die "cannot list the etcd members"
id=$(awk -F', ' -v n="$node" '$3 == n { print $1 }' <<<"$members")
if [ -n "$id" ]; then
	etcdctl member remove "$id" >/dev/null || cc_die "cannot remove etcd member $id ($node)"
	cc_changed "removed etcd member $id ($node)"
else
	cc_log "etcd has no member named $node"
fi
{{/if}}
