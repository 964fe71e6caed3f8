#!/usr/bin/env bash
# network.cilium: Cilium 1.18.1 as the CNI and kube-proxy replacement
# for metal, then
# the networking objects, then a restart of pods that started before Cilium.
set -euo pipefail
CC_STEP=network.cilium
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
# Helpers shared by clusterc's cluster steps (included after the prelude; they
# run as root on the first control node, which has kubectl and helm).
export KUBECONFIG=/etc/kubernetes/admin.conf

# What each Helm release was last applied with (chart version + values hash)
# lives in this ConfigMap, so an unchanged release is not upgraded again.
CC_RELEASES_CM=clusterc-releases

# cc_apply ARGS...: server-side apply under one field manager (idempotent; no
# last-applied annotation, which is too small for large CRDs).
cc_apply() {
	kubectl apply --server-side --force-conflicts --field-manager=clusterc "$@"
}

# cc_ensure_namespace NAME
cc_ensure_namespace() {
	if ! kubectl get namespace "$1" >/dev/null 2>&1; then
		kubectl create namespace "$1"
		cc_changed "namespace $1"
	fi
}

# cc_wait_crds CRD...: waits until every named CRD is registered and established.
cc_wait_crds() {
	local crd i
	for crd in "$@"; do
		for i in $(seq 1 60); do
			if kubectl get "crd/$crd" >/dev/null 2>&1; then break; fi
			[ "$i" -lt 60 ] || { echo "CRD $crd did not appear" >&2; return 1; }
			sleep 5
		done
		kubectl wait --for condition=Established --timeout=300s "crd/$crd"
	done
}

# cc_release_record NAME VALUE: remembers what release NAME was applied with.
cc_release_record() {
	if ! kubectl -n kube-system get configmap "$CC_RELEASES_CM" >/dev/null 2>&1; then
		kubectl -n kube-system create configmap "$CC_RELEASES_CM"
	fi
	kubectl -n kube-system patch configmap "$CC_RELEASES_CM" --type merge \
		-p "{\"data\":{\"$1\":\"$2\"}}"
	cc_changed "release $1 $2"
}

# cc_helm_release NAME NAMESPACE CHART REPO VERSION VALUES: installs or upgrades
# the release only when the chart version or the values file changed since the
# last successful run.
cc_helm_release() {
	local name=$1 namespace=$2 chart=$3 repo=$4 version=$5 values=$6 want have
	want="$version-$(sha256sum "$values" | cut -c1-16)"
	have=$(kubectl -n kube-system get configmap "$CC_RELEASES_CM" -o "jsonpath={.data.$name}" 2>/dev/null || true)
	if [ "$have" = "$want" ] && helm status "$name" --namespace "$namespace" >/dev/null 2>&1; then
		cc_log "helm release $name is up to date ($want)"
		return 0
	fi
	helm upgrade --install "$name" "$chart" --repo "$repo" --version "$version" \
		--namespace "$namespace" --create-namespace --values "$values" \
		--wait --timeout 15m
	cc_release_record "$name" "$want"
}

cc_helm_release cilium kube-system cilium https://helm.cilium.io/ 1.18.1 \
	cluster/network/cilium-values.yaml
kubectl -n kube-system rollout status daemonset/cilium --timeout=600s
kubectl -n kube-system rollout status deployment/cilium-operator --timeout=600s

# The operator registers Cilium's CRDs at start-up.
cc_wait_crds ciliumendpoints.cilium.io

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
