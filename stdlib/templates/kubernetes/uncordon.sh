#!/usr/bin/env bash
set -euo pipefail
# kubernetes.uncordon.{{ node.name }}: after its upgrade, {{ node.name }} reports a {{ cluster.kubernetes }} kubelet and,
# when clusterc drained it, is Ready, and is uncordoned, from the first control node; only
# then does the next node's upgrade start. A node without clusterc's annotation
# clusterc.dev/drained-for-upgrade (cordoned by hand, or never drained) is left as it is.
CC_STEP=kubernetes.uncordon
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
export KUBECONFIG=/etc/kubernetes/admin.conf

node={{ node.name }}
want={{ cluster.kubernetes }}
cc_valid '^[0-9]+\.[0-9]+$' "$want" "the Kubernetes version"

# The kubelet reports its version as soon as it runs (Ready comes with the network).
for ((i = 0; ; i++)); do
	have=$(kubectl get node "$node" -o jsonpath='{.status.nodeInfo.kubeletVersion}' 2>/dev/null || true)
	case $have in "v$want".*) break ;; esac
	[ "$i" -lt 120 ] || cc_die "the kubelet of $node reports ${have:-nothing}, not $want, after 10 minutes"
	sleep 5
done
if [ -z "$(kubectl get node "$node" -o "jsonpath={.metadata.annotations.clusterc\.dev/drained-for-upgrade}")" ]; then
	if [ "$(kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" = true ]; then
		cc_log "$node is cordoned, not by clusterc: left cordoned"
	fi
	exit 0
fi
ready='{.status.conditions[?(@.type=="Ready")].status}'
for ((i = 0; ; i++)); do
	[ "$(kubectl get node "$node" -o "jsonpath=$ready" 2>/dev/null || true)" = True ] && break
	[ "$i" -lt 120 ] || cc_die "$node is not Ready 10 minutes after its upgrade: see its kubelet (journalctl -u kubelet)"
	sleep 5
done
kubectl uncordon "$node"
kubectl annotate node "$node" clusterc.dev/drained-for-upgrade- >/dev/null
cc_changed "uncordoned $node, Ready with kubelet $have"
