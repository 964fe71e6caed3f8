# tests/cli/removals.sh (sourced by run.sh): what the plan says when blocks leave
# the file (issue 14): the previous build's model.json is the record. A removed
# gpu, ceph or monitoring block gets a feature.remove step (impact restart) in the
# remove phase, carried forward by the next build; a removed app is deleted by
# apps.applications, which stays when no app is left. And the usage of drift and
# reset.
rm_dir=$TMP/removals
mkdir -p "$rm_dir/src"
cp clusters/homelab.cluster clusters/homelab.env "$rm_dir/src/"
cp clusters/homelab.env "$rm_dir/src/less.env"
rm_build() { (cd "$rm_dir/src" && env "${CLI_ENV[@]}" "$CLUSTERC_BIN" build -q "$1" -o "$rm_dir/out") >"$rm_dir/build.log" 2>&1; }
if rm_build homelab.cluster; then
	# The same file without its gpu, ceph, monitoring and app blocks.
	awk '
		/^  gpu \{.*\}$/ { next }
		/^(ceph|monitoring|app [a-z0-9-]+) \{/ { skip = 1 }
		skip { if ($0 ~ /^\}/) skip = 0; next }
		{ print }' "$rm_dir/src/homelab.cluster" >"$rm_dir/src/less.cluster"
	rm_plan=$rm_dir/out/homelab/plan.json
	if rm_build less.cluster; then
		check "removals: gpu, ceph and monitoring taken out: one feature.remove step each, impact restart, in the remove phase" \
			test "$(jq -c '[.steps[] | select(.name | startswith("feature.remove.")) | [.name, .impact, .phase]]' "$rm_plan")" = \
			'[["feature.remove.gpu","restart","remove"],["feature.remove.ceph","restart","remove"],["feature.remove.monitoring","restart","remove"]]'
		check "removals: PLAN.md says so" grep -q 'feature.remove.ceph' "$rm_dir/out/homelab/PLAN.md"
		check "removals: the removal deletes no volume, claim or pool" bash -c '
			! grep -hiE "delete (pvc|persistentvolume|pv )|ceph osd pool (delete|rm)" "$1"/cluster/steps/feature.remove.*.sh' _ "$rm_dir/out/homelab"
		check "removals: with no app left, apps.applications stays (to delete the removed ones), listing none" bash -c '
			jq -e "any(.steps[]; .name == \"apps.applications\")" "$1/plan.json" >/dev/null &&
			grep -qx "resources: \[\]" "$1/cluster/apps/kustomization.yaml"' _ "$rm_dir/out/homelab"
		rm_build less.cluster
		check "removals: a second build before the apply still plans them" \
			test "$(jq '[.steps[] | select(.name | startswith("feature.remove."))] | length' "$rm_plan")" = 3
		rm_build homelab.cluster
		check "removals: the blocks back: no feature.remove step" \
			test "$(jq '[.steps[] | select(.name | startswith("feature.remove."))] | length' "$rm_plan")" = 0
	else
		fail "removals: build without the blocks" "$(cat "$rm_dir/build.log")"
	fi
else
	fail "removals: build homelab" "$(cat "$rm_dir/build.log")"
fi

# drift and reset: usage (no host is contacted)
"$CLUSTERC_BIN" drift >/dev/null 2>&1
check "drift without a target exits 1 (2 means drift)" test $? = 1
"$CLUSTERC_BIN" drift out/homelab --force >/dev/null 2>&1
check "drift refuses apply's --force (exit 1)" test $? = 1
out=$("$CLUSTERC_BIN" reset out/homelab 2>&1)
check "reset needs nodes or --all" bash -c 'test "$1" = 2 && grep -q "needs the nodes to reset, or --all" <<<"$2"' _ "$?" "$out"
out=$("$CLUSTERC_BIN" reset out/homelab no-such-node --yes 2>&1)
check "reset of a node the cluster lacks is refused before connecting" bash -c 'test "$1" = 2 && grep -q "no-such-node is not a node of cluster homelab" <<<"$2"' _ "$?" "$out"
