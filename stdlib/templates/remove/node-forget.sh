#!/usr/bin/env bash
set -euo pipefail
# node.forget for {{ cluster.name }}: the cluster's side of `clusterc reset NODE...`
# (compiler/run/reset.c), on the first control node before the nodes are reset: each node
# named in the input reset_nodes (space-separated) is drained and its Node deleted, so the
# next apply joins it again (kubernetes.credentials makes a token only for nodes that are
# not registered), and this host's record of labels.apply is removed, so that apply
# labels and taints them again (a new Node has none). As in node.remove, the drain is never forced: a PodDisruptionBudget
# that blocks it fails the step, and nothing is reset.
CC_STEP=node.forget
# shellcheck source=SCRIPTDIR/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/prelude.sh"
export KUBECONFIG=/etc/kubernetes/admin.conf

read -r -a nodes <<<"$(cc_in reset_nodes)"
for node in "${nodes[@]}"; do
	cc_valid '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' "$node" "the node name"
	if ! kubectl get node "$node" -o name >/dev/null 2>&1; then
		cc_log "Node $node is not registered: nothing to drain or delete"
		continue
	fi
	kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=600s ||
		cc_die "cannot drain $node (see the lines above): make room for its pods, or drain it by hand, and reset again"
	cc_changed "drained $node"
	kubectl delete node "$node"
	cc_changed "deleted Node $node"
done
cc_remove_file /var/lib/clusterc/{{ cluster.name }}/state/labels.apply
