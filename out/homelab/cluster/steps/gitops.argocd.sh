#!/usr/bin/env bash
# gitops.argocd: ArgoCD 3.1.7 for homelab, its repository deploy
# key (generated here once, on the cluster), the homelab project and the way in.
# The public half of the key is handed to later steps as argocd_public_key.
set -euo pipefail
CC_STEP=gitops.argocd
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

NS=argocd
REPO=git@gitlab.example.com:me/homelab.git
REPO_JSON='"git@gitlab.example.com:me/homelab.git"'
cc_ensure_namespace "$NS"
# install.yaml holds a CRD larger than the client-side last-applied annotation
# allows, so it is applied server-side; and only when the pinned version
# changed (or ArgoCD is missing), so that a re-run changes nothing and keeps
# what this step adds to ArgoCD's ConfigMaps below.
want=3.1.7
have=$(kubectl -n kube-system get configmap "$CC_RELEASES_CM" -o 'jsonpath={.data.argocd}' 2>/dev/null || true)
if [ "$have" != "$want" ] || ! kubectl -n "$NS" get deployment argocd-server >/dev/null 2>&1; then
	cc_apply -n "$NS" -f https://raw.githubusercontent.com/argoproj/argo-cd/v3.1.7/manifests/install.yaml
	cc_release_record argocd "$want"
fi
cc_wait_crds applications.argoproj.io appprojects.argoproj.io
kubectl -n "$NS" rollout status deployment/argocd-server --timeout=600s
kubectl -n "$NS" rollout status deployment/argocd-repo-server --timeout=600s
kubectl -n "$NS" rollout status statefulset/argocd-application-controller --timeout=600s

# ArgoCD checks the repository's SSH host key against argocd-ssh-known-hosts-cm,
# which ships with the large public hosts only. The keys of any other host come
# from the cluster file (repo_host_keys), never from a scan of the network: a key
# taken on first use would trust whoever answers first.
REPO_KNOWN_HOST=gitlab.example.com
known=$(kubectl -n "$NS" get configmap argocd-ssh-known-hosts-cm -o 'jsonpath={.data.ssh_known_hosts}' 2>/dev/null || true)
stated=$(cat <<'KEYS'
gitlab.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOzg34TtbkvKQH23AxGd+BPO5WcUQUamigC+Qfy0LJ0F
KEYS
)
# The file's keys replace whatever the ConfigMap held for this host.
others=$(awk -v h="$REPO_KNOWN_HOST" '$1 != h' <<<"$known")
want=$(printf '%s\n%s\n' "$others" "$stated" | sed '/^$/d')
if [ "$want" != "$(sed '/^$/d' <<<"$known")" ]; then
	kh=$(mktemp)
	printf '%s\n' "$want" >"$kh"
	kubectl -n "$NS" create configmap argocd-ssh-known-hosts-cm --from-file=ssh_known_hosts="$kh" \
		--dry-run=client -o yaml | cc_apply -f -
	rm -f "$kh"
	cc_changed "SSH host keys of $REPO_KNOWN_HOST in argocd-ssh-known-hosts-cm set from the cluster file"
fi

# The deploy key pair is made once. The private half lives only in the
# repository Secret; the public half in a ConfigMap. Both present: reuse.
if kubectl -n "$NS" get configmap argocd-ssh-public-key >/dev/null 2>&1 &&
	kubectl -n "$NS" get secret argocd-repo-ssh-key >/dev/null 2>&1; then
	echo "reusing the existing ArgoCD deploy key"
else
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	ssh-keygen -q -t ed25519 -N '' -C argocd-deploy-key -f "$tmp/id"
	kubectl -n "$NS" create secret generic argocd-repo-ssh-key \
		--from-literal=type=git --from-literal=url="$REPO" \
		--from-file=sshPrivateKey="$tmp/id" --dry-run=client -o yaml |
		kubectl label --local -f - -o yaml argocd.argoproj.io/secret-type=repository |
		cc_apply -f -
	kubectl -n "$NS" create configmap argocd-ssh-public-key \
		--from-file=publicKey="$tmp/id.pub" --dry-run=client -o yaml | cc_apply -f -
	rm -rf "$tmp"
	trap - EXIT
	cc_changed "new ArgoCD deploy key"
fi
# The repository URL may have changed since the key was made.
if [ "$(kubectl -n "$NS" get secret argocd-repo-ssh-key -o 'jsonpath={.data.url}' | base64 -d)" != "$REPO" ]; then
	kubectl -n "$NS" patch secret argocd-repo-ssh-key --type merge \
		-p "{\"stringData\":{\"url\":$REPO_JSON}}"
fi
public_key=$(kubectl -n "$NS" get configmap argocd-ssh-public-key -o 'jsonpath={.data.publicKey}')
echo "ArgoCD deploy key: $public_key"
cc_output argocd_public_key "$public_key"

cc_apply -k cluster/gitops
