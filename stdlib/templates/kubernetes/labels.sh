#!/usr/bin/env bash
set -euo pipefail
# labels.apply for {{ cluster.name }}: node labels and taints, declaratively, on every
# apply. For each node: set the labels and taints the cluster file gives; remove the ones
# clusterc set earlier that the file no longer gives. What clusterc manages is recorded on
# the node in the annotations clusterc.io/managed-labels (label keys) and
# clusterc.io/managed-taints (key:Effect), comma-separated, so labels and taints set by
# people or other controllers are never removed. Label keys under kubernetes.io/ and
# k8s.io/ (and their subdomains), nvidia.com/, and the keys accelerator and gpu-type (set
# by the GPU add-ons) are never touched. Taints under kubernetes.io/ and k8s.io/ are
# never touched either; a taint such as nvidia.com/gpu=present:NoSchedule, the usual
# way to keep other pods off GPU nodes, is applied when the cluster file gives it.
CC_STEP=labels.apply
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
export KUBECONFIG=/etc/kubernetes/admin.conf

protected() {
	case $1 in
	kubernetes.io/* | *.kubernetes.io/* | k8s.io/* | *.k8s.io/* | nvidia.com/* | *.nvidia.com/* | accelerator | gpu-type) return 0 ;;
	esac
	return 1
}
protected_taint() {
	case $1 in
	kubernetes.io/* | *.kubernetes.io/* | k8s.io/* | *.k8s.io/*) return 0 ;;
	esac
	return 1
}
# jsonpath needs the dots of a key escaped: {.metadata.labels.example\.com/tier}
jp_key() { printf '%s' "${1//./\\.}"; }

# node_apply NODE: applies the arrays labels (key, value, key, value, ...) and taints
# ("k=v:Effect" or "k:Effect" words) to NODE.
node_apply() {
	local node=$1 i k v cur has old_keys new_keys="" old_taints new_taints="" t tk norm
	local -a olds
	cc_retry 60 5 kubectl get node "$node" -o name >/dev/null ||
		cc_die "node $node is not registered"

	old_keys=$(kubectl get node "$node" -o jsonpath='{.metadata.annotations.clusterc\.io/managed-labels}')
	for ((i = 0; i + 1 < ${#labels[@]}; i += 2)); do
		k=${labels[i]} v=${labels[i + 1]}
		if protected "$k"; then
			cc_warn "$node: not setting protected label $k"
			continue
		fi
		new_keys=${new_keys:+$new_keys,}$k
		cur=$(kubectl get node "$node" -o jsonpath="{.metadata.labels.$(jp_key "$k")}")
		has=$(kubectl get node "$node" -o jsonpath="{.metadata.labels}" | grep -c -F "\"$k\":" || true)
		if [ "$has" = 0 ] || [ "$cur" != "$v" ]; then
			kubectl label node "$node" --overwrite "$k=$v" >/dev/null
			cc_changed "$node: label $k=$v"
		fi
	done
	IFS=, read -r -a olds <<<"$old_keys"
	for k in "${olds[@]}"; do
		[ -n "$k" ] || continue
		protected "$k" && continue
		case ",$new_keys," in *",$k,"*) continue ;; esac
		if [ -n "$(kubectl get node "$node" -o jsonpath="{.metadata.labels.$(jp_key "$k")}")" ] ||
			grep -q -F "\"$k\":" <<<"$(kubectl get node "$node" -o jsonpath="{.metadata.labels}")"; then
			kubectl label node "$node" "$k-" >/dev/null
			cc_changed "$node: removed label $k"
		fi
	done
	if [ "$old_keys" != "$new_keys" ]; then
		kubectl annotate node "$node" --overwrite "clusterc.io/managed-labels=$new_keys" >/dev/null
		cc_changed "$node: managed labels now '$new_keys'"
	fi

	# Taints: the current ones as "key=value:Effect" lines.
	cur=$(kubectl get node "$node" -o jsonpath='{range .spec.taints[*]}{.key}={.value}:{.effect}{"\n"}{end}')
	old_taints=$(kubectl get node "$node" -o jsonpath='{.metadata.annotations.clusterc\.io/managed-taints}')
	while IFS= read -r t; do
		[ -n "$t" ] || continue
		# kubectl prints an empty value as "key=:Effect"; the file may say "key:Effect".
		case $t in
		*=*) tk=${t%%=*} norm=$t ;;
		*) tk=${t%%:*} norm="$tk=:${t#*:}" ;;
		esac
		if protected_taint "$tk"; then
			cc_warn "$node: not setting protected taint $tk"
			continue
		fi
		new_taints=${new_taints:+$new_taints,}$tk:${t##*:}
		if ! grep -qxF -- "$norm" <<<"$cur"; then
			kubectl taint node "$node" --overwrite "$t" >/dev/null
			cc_changed "$node: taint $t"
		fi
	done < <(printf '%s\n' "${taints[@]}")
	IFS=, read -r -a olds <<<"$old_taints"
	for t in "${olds[@]}"; do
		[ -n "$t" ] || continue
		protected_taint "${t%%:*}" && continue
		case ",$new_taints," in *",$t,"*) continue ;; esac
		if grep -q -- "^${t%%:*}=.*:${t#*:}\$" <<<"$cur"; then
			kubectl taint node "$node" "$t-" >/dev/null
			cc_changed "$node: removed taint $t"
		fi
	done
	if [ "$old_taints" != "$new_taints" ]; then
		kubectl annotate node "$node" --overwrite "clusterc.io/managed-taints=$new_taints" >/dev/null
		cc_changed "$node: managed taints now '$new_taints'"
	fi
}

{{#each nodes as n}}
labels=({{#each n.labels as k, v}} {{ k }} {{ v }}{{/each}})
taints=({{#each n.taints as t}} {{ t.text }}{{/each}})
node_apply {{ n.name }}
{{/each}}
