#!/usr/bin/env bash
# apps.applications: the ArgoCD Applications of {{ cluster.name }}. Applications that
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
{{> templates/apps/kube-lib.sh }}

cc_wait_crds applications.argoproj.io
cc_apply -k cluster/apps

declare -A wanted=(
{{#each apps as app}}
	[{{ app.name }}]=1
{{/each}}
{{#if features.monitoring}}
	[monitoring]=1
{{/if}}
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
