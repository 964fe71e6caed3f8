#!/usr/bin/env bash
# network.cilium: Cilium {{ versions.cilium }} as the CNI and kube-proxy replacement
# for {{ cluster.name }}{{#if features.gateway_api}}, the Gateway API CRDs first{{/if}}, then
# the networking objects, then a restart of pods that started before Cilium.
set -euo pipefail
CC_STEP=network.cilium
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
{{> templates/apps/kube-lib.sh }}

{{#if features.gateway_api}}
# Cilium enables its Gateway API controller only when these CRDs exist at start.
cc_apply -k cluster/network/vendor/gateway-api
cc_wait_crds gatewayclasses.gateway.networking.k8s.io gateways.gateway.networking.k8s.io \
	httproutes.gateway.networking.k8s.io grpcroutes.gateway.networking.k8s.io \
	referencegrants.gateway.networking.k8s.io tlsroutes.gateway.networking.k8s.io

{{/if}}
cc_helm_release cilium kube-system cilium https://helm.cilium.io/ {{ versions.cilium }} \
	cluster/network/cilium-values.yaml
kubectl -n kube-system rollout status daemonset/cilium --timeout=600s
kubectl -n kube-system rollout status deployment/cilium-operator --timeout=600s

# The operator registers Cilium's CRDs at start-up.
cc_wait_crds ciliumendpoints.cilium.io{{#if features.l2}} ciliumloadbalancerippools.cilium.io \
	ciliuml2announcementpolicies.cilium.io{{/if}}
{{#if features.l2 or features.gateway_api or features.ingress_controller}}
cc_apply -k cluster/network/resources
{{/if}}

# Pods that started before Cilium (CoreDNS, for one) have no Cilium endpoint and
# no working network: delete them so their controllers recreate them on Cilium.
# Host-network pods and pods Cilium already manages are left alone, so a second
# run deletes nothing.
managed=$(kubectl get ciliumendpoints.cilium.io --all-namespaces \
	-o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}')
restarted=0
while IFS='|' read -r ns name hostnet phase; do
	if [ -z "$name" ] || [ "$phase" != Running ] || [ "$hostnet" = true ]; then
		continue
	fi
	if ! grep -qxF "$ns/$name" <<<"$managed"; then
		kubectl -n "$ns" delete pod "$name" --wait=false
		restarted=$((restarted + 1))
	fi
done < <(kubectl get pods --all-namespaces \
	-o 'jsonpath={range .items[*]}{.metadata.namespace}|{.metadata.name}|{.spec.hostNetwork}|{.status.phase}{"\n"}{end}')
echo "restarted $restarted pod(s) not managed by Cilium"
{{#if features.l2}}
{{#if features.gateway_api or features.ingress_controller}}

# LB-IPAM gives the {{#if features.gateway_api}}Gateway{{else}}shared Ingress Service{{/if}} its address from the pool
# {{ network.lb_pool }}: every web UI answers on it, so a run without one is not done.
# A read: a check-only run does it too (and `clusterc status` says the same).
lb_address() {
{{#if features.gateway_api}}
	kubectl -n gateway get gateway cluster-gateway -o 'jsonpath={.status.addresses[*].value}' 2>/dev/null || true
{{else}}
	kubectl -n kube-system get service cilium-ingress -o 'jsonpath={.status.loadBalancer.ingress[*].ip}' 2>/dev/null || true
{{/if}}
}
address=$(lb_address)
for _ in $(seq 60); do
	[ -z "$address" ] || break
	sleep 2
	address=$(lb_address)
done
[ -n "$address" ] || cc_die "{{#if features.gateway_api}}the Gateway gateway/cluster-gateway{{else}}the Service kube-system/cilium-ingress{{/if}} has no address after 120 s: \
see 'kubectl get ciliumloadbalancerippools' (is {{ network.lb_pool }} free of conflicts?) and \
'kubectl -n kube-system logs deployment/cilium-operator | grep -i lbipam'"
cc_log "the web UIs answer on $address (pool {{ network.lb_pool }})"
{{/if}}
{{/if}}
