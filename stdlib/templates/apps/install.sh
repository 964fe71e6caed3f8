#!/usr/bin/env bash
# apps.applications: the ArgoCD Applications of {{ cluster.name }}. Applications that
# clusterc created earlier and the cluster file no longer lists are deleted
# (without cascading: what they deployed stays until a person removes it).
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
	if [ -z "${wanted[$name]+set}" ]; then
		kubectl -n argocd delete application "$name" --cascade=orphan
		cc_changed "deleted Application $name (no longer in the cluster file)"
	fi
done < <(kubectl -n argocd get applications -l app.kubernetes.io/managed-by=clusterc \
	-o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}')
