#!/usr/bin/env bash
# storage.ceph: Ceph CSI cephfs 3.9.0 for ha: the
# csi-cephfs-secret (created here from secret values, never written to disk),
# the chart with the cephfs class, and the cephfs-retain class.
set -euo pipefail
CC_STEP=storage.ceph
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

NS=ceph-csi-cephfs
cc_ensure_namespace "$NS"

# The Ceph keys arrive already base64-encoded, as the reference project's
# CEPH_K8S_KEY (`ceph auth get-key client.NAME | base64`), so they go into
# `data` as they are; the IDs are plain names.
user_key=$(cc_in CEPH_K8S_KEY)
admin_id="admin"
admin_key=$(cc_in CEPH_ADMIN_KEY)
for key in "$user_key" "$admin_key"; do
	if ! [[ $key =~ ^[A-Za-z0-9+/]+=*$ ]]; then
		cc_die "a Ceph key is not base64 text"
	fi
	# A key as `ceph auth get-key` prints it decodes to binary: one base64 short.
	if printf '%s' "$key" | base64 -d 2>/dev/null | LC_ALL=C grep -q '[^[:print:]]'; then
		cc_die "a Ceph key decodes to binary: give it base64-encoded once more (ceph auth get-key client.NAME | base64)"
	fi
done
# The manifest goes to kubectl on standard input only: no file, no argv.
cc_apply -f - <<SECRET
apiVersion: v1
kind: Secret
metadata:
  name: csi-cephfs-secret
  namespace: $NS
type: Opaque
data:
  userID: $(printf '%s' k8s-ha | base64 -w0)
  userKey: $user_key
  adminID: $(printf '%s' "$admin_id" | base64 -w0)
  adminKey: $admin_key
SECRET

cc_helm_release ceph-csi-cephfs "$NS" ceph-csi-cephfs https://ceph.github.io/csi-charts \
	3.9.0 cluster/storage/ceph-csi-values.yaml
kubectl -n "$NS" wait --for=condition=Ready pod -l app=ceph-csi-cephfs,component=provisioner --timeout=300s
cc_apply -k cluster/storage/resources
