#!/usr/bin/env bash
# gitops.argocd: ArgoCD {{ versions.argocd }} for {{ cluster.name }}, its repository deploy
# key (generated here once, on the cluster), the {{ argocd.project }} project and the way in.
# The public half of the key is handed to later steps as argocd_public_key.
set -euo pipefail
CC_STEP=gitops.argocd
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
{{> templates/apps/kube-lib.sh }}

NS=argocd
REPO={{ argocd.repo }}
REPO_JSON={{ argocd.repo | json | sh }}
cc_ensure_namespace "$NS"
# install.yaml holds a CRD larger than the client-side last-applied annotation
# allows, so it is applied server-side; and only when the pinned version
# changed (or ArgoCD is missing), so that a re-run changes nothing and keeps
# what this step adds to ArgoCD's ConfigMaps below.
want={{ versions.argocd }}
have=$(kubectl -n kube-system get configmap "$CC_RELEASES_CM" -o 'jsonpath={.data.argocd}' 2>/dev/null || true)
if [ "$have" != "$want" ] || ! kubectl -n "$NS" get deployment argocd-server >/dev/null 2>&1; then
	cc_apply -n "$NS" -f https://raw.githubusercontent.com/argoproj/argo-cd/v{{ versions.argocd }}/manifests/install.yaml
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
REPO_KNOWN_HOST={{ argocd.repo_known_host }}
known=$(kubectl -n "$NS" get configmap argocd-ssh-known-hosts-cm -o 'jsonpath={.data.ssh_known_hosts}' 2>/dev/null || true)
{{#if argocd.repo_host_keys}}
stated=$(cat <<'KEYS'
{{#each argocd.repo_host_keys as key}}
{{ argocd.repo_known_host | raw }} {{ key | raw }}
{{/each}}
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
{{else}}
if ! awk -v h="$REPO_KNOWN_HOST" '$1 == h { found = 1 } END { exit !found }' <<<"$known"; then
	cc_warn "argocd-ssh-known-hosts-cm has no key of $REPO_KNOWN_HOST: ArgoCD cannot read" \
		"the repository until repo_host_keys in the cluster file states them"
fi
{{/if}}

# The deploy key pair is made once. The private half lives only in the
# repository Secret; the public half in a ConfigMap. Both present: reuse.
if kubectl -n "$NS" get configmap argocd-ssh-public-key >/dev/null 2>&1 &&
	kubectl -n "$NS" get secret argocd-repo-ssh-key >/dev/null 2>&1; then
	echo "reusing the existing ArgoCD deploy key"
else
	cc_tmpdir tmp
	ssh-keygen -q -t ed25519 -N '' -C argocd-deploy-key -f "$tmp/id"
	kubectl -n "$NS" create secret generic argocd-repo-ssh-key \
		--from-literal=type=git --from-literal=url="$REPO" \
		--from-file=sshPrivateKey="$tmp/id" --dry-run=client -o yaml |
		kubectl label --local -f - -o yaml argocd.argoproj.io/secret-type=repository |
		cc_apply -f -
	kubectl -n "$NS" create configmap argocd-ssh-public-key \
		--from-file=publicKey="$tmp/id.pub" --dry-run=client -o yaml | cc_apply -f -
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
