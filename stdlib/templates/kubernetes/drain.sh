#!/usr/bin/env bash
set -euo pipefail
# kubernetes.drain.{{ node.name }}: before its kubelet moves to Kubernetes {{ cluster.kubernetes }}, {{ node.name }} is
# drained, from the first control node (kubeadm's order: kubeadm upgraded, then drain,
# kubelet, uncordon). Only a node clusterc cordons carries the annotation
# clusterc.dev/drained-for-upgrade, and only such a node is uncordoned afterwards: a
# node the operator cordoned by hand stays cordoned. A node whose kubelet is at
# {{ cluster.kubernetes }} already is not touched. The drain is never forced: a PodDisruptionBudget
# that blocks it fails the step, and the upgrade stops here.
CC_STEP=kubernetes.drain
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
export KUBECONFIG=/etc/kubernetes/admin.conf

node={{ node.name }}
want={{ cluster.kubernetes }}
mark=clusterc.dev/drained-for-upgrade
cc_valid '^[0-9]+\.[0-9]+$' "$want" "the Kubernetes version"

have=$(kubectl get node "$node" -o jsonpath='{.status.nodeInfo.kubeletVersion}')
case $have in
"v$want".*)
	cc_log "the kubelet of $node is $have: nothing to drain"
	exit 0 ;;
esac
if [ -n "$(kubectl get node "$node" -o "jsonpath={.metadata.annotations.clusterc\.dev/drained-for-upgrade}")" ]; then
	cc_log "$node was cordoned for this upgrade already (an earlier run)"
elif [ "$(kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" = true ]; then
	cc_warn "$node was cordoned by hand: it is drained for the upgrade and stays cordoned"
else
	# Marked before the drain cordons it: a failed drain leaves the mark, so
	# the next run still knows the cordon is clusterc's.
	kubectl annotate node "$node" --overwrite "$mark=$want" >/dev/null
fi
if ! kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=600s; then
	cc_die "cannot drain $node (a PodDisruptionBudget or a pod without a controller blocks" \
		"it; see the lines above). Make room for its pods, or drain it by hand, and apply again"
fi
cc_changed "drained $node for the upgrade from $have to $want"
