#!/usr/bin/env bash
# apps.applications: the ArgoCD Applications of homelab. Applications that
# clusterc created earlier and the cluster file no longer lists are deleted. What they
# deployed goes with them when their app block said prune = true (the annotation
# clusterc.io/prune, set when they were applied), and stays otherwise. Argo CD decides
# that by the Application's finalizer, not by kubectl's --cascade: with
# resources-finalizer.argocd.argoproj.io its controller deletes the resources first
# (a cascading delete); without it only the Application goes
# (https://argo-cd.readthedocs.io/en/release-3.3/user-guide/app_deletion/, "Deletion
# Using kubectl"). So the finalizer is set, or removed, and then the Application is
# deleted.
set -euo pipefail
CC_STEP=apps.applications
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

cc_wait_crds applications.argoproj.io
cc_apply -k cluster/apps

declare -A wanted=(
	[whoami]=1
	[monitoring]=1
)
while IFS= read -r name; do
	[ -n "$name" ] || continue
	[ -z "${wanted[$name]+set}" ] || continue
	prune=$(kubectl -n argocd get application "$name" -o 'jsonpath={.metadata.annotations.clusterc\.io/prune}')
	if [ "$prune" = true ]; then
		kubectl -n argocd patch application "$name" --type merge \
			-p '{"metadata":{"finalizers":["resources-finalizer.argocd.argoproj.io"]}}' >/dev/null
		kubectl -n argocd delete application "$name" --wait=false
		cc_changed "deleted Application $name and its resources (no longer in the cluster file; prune = true)"
	else
		kubectl -n argocd patch application "$name" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
		kubectl -n argocd delete application "$name" --wait=false
		cc_changed "deleted Application $name, keeping its resources (no longer in the cluster file; prune = false)"
	fi
done < <(kubectl -n argocd get applications -l app.kubernetes.io/managed-by=clusterc \
	-o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}')
