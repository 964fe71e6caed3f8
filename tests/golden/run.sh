#!/usr/bin/env bash
# Golden output: out/ is what the examples compile to, byte for byte; builds
# are deterministic; nothing secret reaches the output; a failed build changes
# nothing.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/golden/env.sh"
at_exit 'rm -rf "$GOLDEN_HOME"'
cd "$TOP"

for f in clusters/*.cluster; do
	name=$(basename "$f" .cluster)
	if ! golden_env "$CLUSTERC_BIN" build "$f" -o "$TMP/a" >"$TMP/build.log" 2>&1; then
		fail "build $f" "$(cat "$TMP/build.log")"
		continue
	fi
	pass "build $f"
	cluster=$(cd "$TMP/a" && ls)
	if [ "${UPDATE_GOLDEN:-}" = 1 ]; then
		rm -rf "out/$cluster" && cp -a "$TMP/a/$cluster" "out/$cluster"
		pass "out/$cluster updated"
	elif diff -r "out/$cluster" "$TMP/a/$cluster" >"$TMP/diff" 2>&1; then
		pass "out/$cluster is fresh"
	else
		fail "out/$cluster is fresh" "$(head -n 30 "$TMP/diff"; echo '(run make examples, review, commit)')"
	fi
	golden_env "$CLUSTERC_BIN" build "$f" -o "$TMP/b" >/dev/null 2>&1
	if diff -r "$TMP/a/$cluster" "$TMP/b/$cluster" >/dev/null 2>&1; then
		pass "$name builds deterministically"
	else
		fail "$name builds deterministically"
	fi
	rm -rf "$TMP/a" "$TMP/b"
done

# PLAN.md, the reviewer's index: one row per step of plan.json, with its hash prefix.
plan_rows_ok() { # DIR: every step of DIR/plan.json has its row in DIR/PLAN.md
	local name host hash tick='`'
	while read -r name host hash; do
		grep -qF -- "| $tick$name$tick | $host | " "$1/PLAN.md" &&
			grep -F -- "| $tick$name$tick | $host | " "$1/PLAN.md" | grep -qF -- "$tick${hash:7:12}$tick |" ||
			{ echo "no row for $name@$host"; return 1; }
	done < <(jq -r '.steps[] | "\(.name) \(.host) \(.hash)"' "$1/plan.json")
}
for d in out/*; do
	check "$d/PLAN.md has a row for every step, with its host and hash prefix" plan_rows_ok "$d"
done
# The APT repositories an air-gapped operator mirrors: every source line the
# steps write, with its variables resolved, and no unresolved one.
apt_rows_ok() { # DIR: each signed-by repository of DIR's scripts is a row of DIR/PLAN.md
	local url n=0
	while read -r url; do
		n=$((n + 1))
		grep -qF -- "| $url | " "$1/PLAN.md" || { echo "no row for $url"; return 1; }
	done < <(grep -rhoE 'deb \[signed-by=[^]]+\] [^ "]+' "$1" --include='*.sh' | awk '{ print $3 }' |
		sed -e 's/^\$k8s_url$/https:\/\/pkgs.k8s.io\/core:\/stable:\/v'"$(jq -r .cluster.kubernetes "$1/model.json")"'\/deb\//' \
			-e 's/^\$crio_url$/https:\/\/download.opensuse.org\/repositories\/isv:\/cri-o:\/stable:\/v'"$(jq -r .cluster.crio "$1/model.json")"'\/deb\//' \
			-e 's/\\\$/$/g' | sort -u)
	[ "$n" -gt 0 ] && ! grep -A20 '^APT repositories' "$1/PLAN.md" | grep -q '| .*\$[a-z{]'
}
for d in out/*; do
	check "$d/PLAN.md lists the APT repositories the nodes add, resolved" apt_rows_ok "$d"
done

# The build summary: what changed in OUTDIR/<cluster>/, against the previous build.
sum=$TMP/summary
golden_env "$CLUSTERC_BIN" build clusters/bare-metal.cluster -o "$sum" >"$TMP/sum1" 2>&1
check "a first build says every file is added and every step is new" \
	grep -qE "^$sum/metal: $(find out/metal -type f | wc -l) files added, 0 changed, 0 removed; $(jq '.steps | length' out/metal/plan.json) steps to run again" "$TMP/sum1"
golden_env "$CLUSTERC_BIN" build clusters/bare-metal.cluster -o "$sum" >"$TMP/sum2" 2>&1
check "the same build again changes nothing and says so" test "$(cat "$TMP/sum2")" = \
	"$sum/metal: 0 files added, 0 changed, 0 removed; 0 steps to run again (new or changed hash)."
sed 's/role = control/role = control\n  labels = { tier = "edge" }/' clusters/bare-metal.cluster >"$TMP/labelled.cluster"
golden_env "$CLUSTERC_BIN" build "$TMP/labelled.cluster" -o "$sum" >"$TMP/sum3" 2>&1
check "a label change names the labels step among the steps to run again" grep -qx '  changed labels.apply@metal-1 (files)' "$TMP/sum3"
check "--quiet prints nothing" test -z "$(golden_env "$CLUSTERC_BIN" build -q clusters/bare-metal.cluster -o "$sum" 2>&1)"
# A previous model that is not JSON is a warning (C0612); under --werror an error,
# and then the build writes nothing.
printf '{ broken' >"$sum/metal/model.json"
golden_env "$CLUSTERC_BIN" build --werror clusters/bare-metal.cluster -o "$sum" >"$TMP/werror.out" 2>&1
rc=$?
check "--werror: a previous model that is not JSON stops the build (exit 1), nothing written" bash -c '
	test "$1" = 1 && grep -q "error\[C0612\]" "$2" && test "$(cat "$3")" = "{ broken"' _ "$rc" "$TMP/werror.out" "$sum/metal/model.json"
golden_env "$CLUSTERC_BIN" build clusters/bare-metal.cluster -o "$sum" >"$TMP/nowerror.out" 2>&1
rc=$?
check "... and without --werror a warning: the build goes on and replaces it" bash -c '
	test "$1" = 0 && grep -q "warning\[C0612\]" "$2" && jq -e .cluster "$3" >/dev/null' _ "$rc" "$TMP/nowerror.out" "$sum/metal/model.json"

# Marker secrets: every secret() of the examples set to a recognisable value,
# and every env() too, so a secret reaching the output by any path shows up.
markers=(PROXMOX_API_PASSWORD CEPH_K8S_KEY CEPH_ADMIN_KEY REPOSITORY_TOKEN PVE_A_TOKEN PVE_B_TOKEN)
args=()
for m in "${markers[@]}"; do args+=("$m=SECRET-MARKER-$m-7f3a9c"); done
for f in clusters/*.cluster; do
	golden_env "${args[@]}" "$CLUSTERC_BIN" build "$f" -o "$TMP/s" >/dev/null 2>&1 || true
done
if [ -d "$TMP/s" ] && ! grep -rq 'SECRET-MARKER' "$TMP/s"; then
	pass "no secret value under out/"
else
	fail "no secret value under out/" "$(grep -rl 'SECRET-MARKER' "$TMP/s" 2>/dev/null | head)"
fi

# A failed build leaves the output folder byte for byte as it was.
golden_env "$CLUSTERC_BIN" build clusters/bare-metal.cluster -o "$TMP/keep" >/dev/null 2>&1
cp -a "$TMP/keep" "$TMP/keep.before"
sed 's/role = control/role = controller/' clusters/bare-metal.cluster >"$TMP/broken.cluster"
if golden_env "$CLUSTERC_BIN" build "$TMP/broken.cluster" -o "$TMP/keep" >/dev/null 2>&1; then
	fail "a failed build exits non-zero"
else
	pass "a failed build exits non-zero"
fi
if diff -r "$TMP/keep.before" "$TMP/keep" >/dev/null && [ -z "$(find "$TMP/keep" -name '.*' ! -name .gitattributes -print -quit)" ]; then
	pass "a failed build changes nothing"
else
	fail "a failed build changes nothing" "$(diff -r "$TMP/keep.before" "$TMP/keep" | head)"
fi
# An interrupted build's temporary tree is removed by the next build; one a
# concurrent build still writes (it holds an flock on it) survives.
mkdir -p "$TMP/keep/.metal.tmp-killed1/nodes" "$TMP/keep/.metal.tmp-live1"
touch -d '1 hour ago' "$TMP/keep/.metal.tmp-killed1" "$TMP/keep/.metal.tmp-live1"
flock "$TMP/keep/.metal.tmp-live1" sleep 60 &
holder=$!
for _ in $(seq 50); do
	flock -n "$TMP/keep/.metal.tmp-live1" true 2>/dev/null || break
	sleep 0.1
done
golden_env "$CLUSTERC_BIN" build clusters/bare-metal.cluster -o "$TMP/keep" >/dev/null 2>&1
check "an interrupted build's tree is removed, a concurrent build's survives" \
	test ! -e "$TMP/keep/.metal.tmp-killed1" -a -d "$TMP/keep/.metal.tmp-live1"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
rm -rf "$TMP/keep/.metal.tmp-live1"
# The same for the build of a FILE given to plan, apply or graph, under TMPDIR
# (it may hold rendered secrets; no process of the lab's or the user's other).
bt=$TMP/bt
mkdir -p "$bt/clusterc-build-killed1/metal" "$bt/clusterc-build-live1"
touch -d '1 hour ago' "$bt/clusterc-build-killed1" "$bt/clusterc-build-live1"
flock "$bt/clusterc-build-live1" sleep 60 &
holder=$!
for _ in $(seq 50); do
	flock -n "$bt/clusterc-build-live1" true 2>/dev/null || break
	sleep 0.1
done
golden_env TMPDIR="$bt" "$CLUSTERC_BIN" graph clusters/bare-metal.cluster >/dev/null 2>"$TMP/graph.log"
check "a killed command's FILE build is removed, a running one's survives, its own is gone" \
	test ! -e "$bt/clusterc-build-killed1" -a -d "$bt/clusterc-build-live1" -a \
	"$(find "$bt" -maxdepth 1 -name 'clusterc-build-*' | wc -l)" = 1
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
# Nodes taken out of the file are carried forward from the previous build's
# model.json: planned for removal (drain, delete the Node, the etcd member of a
# control node), their VM destroyed only with --destroy, kept through later
# builds, and gone again once the file names them once more.
removed_plan() { # OUTDIR: "id destroys after" of every removal step
	jq -r '.steps[] | select(.phase == "remove") | "\(.id) \(.destroys // false) \(.after | join(","))"' "$1/ha/plan.json" 2>/dev/null
}
rm_dir=$TMP/removed
golden_env "$CLUSTERC_BIN" build clusters/ha.cluster -o "$rm_dir" >/dev/null 2>&1
sed '/^node cp-3 {/,/^}/d; /^node worker-2 {/,/^}/d' clusters/ha.cluster >"$TMP/ha-smaller.cluster"
check "ha without cp-3 and worker-2 still checks" golden_env "$CLUSTERC_BIN" check "$TMP/ha-smaller.cluster"
if golden_env "$CLUSTERC_BIN" build "$TMP/ha-smaller.cluster" -o "$rm_dir" >"$TMP/build.log" 2>&1; then
	pass "ha without cp-3 and worker-2 builds over the previous output"
else
	fail "ha without cp-3 and worker-2 builds over the previous output" "$(cat "$TMP/build.log")"
fi
want='infra.vm_destroy.cp-3@local true node.remove.cp-3@cp-1
infra.vm_destroy.worker-2@local true node.remove.worker-2@cp-1
node.remove.cp-3@cp-1 false kubernetes.init@cp-1
node.remove.worker-2@cp-1 false kubernetes.init@cp-1'
got=$(removed_plan "$rm_dir" | LC_ALL=C sort)
check "the plan removes cp-3 and worker-2 from cp-1 and holds their VMs for --destroy" test "$got" = "$want"
[ "$got" = "$want" ] || printf '    got: %s\n' "$got"
check "the VM destroyed is the removed node's own (pve-b, 2022)" test \
	"$(jq -c "{proxmox, vmid: .vm.vmid}" "$rm_dir/ha/infra/removed/worker-2/vm-destroy.json" 2>/dev/null)" = '{"proxmox":"pve-b","vmid":2022}'
check "a removed control node leaves etcd; a removed worker has no member to remove" bash -c '
	grep -q "etcdctl member remove\|member remove" "$1/cluster/steps/node.remove.cp-3.sh" &&
	! grep -q "member remove" "$1/cluster/steps/node.remove.worker-2.sh"' _ "$rm_dir/ha"
if command -v shellcheck >/dev/null; then
	check "the removal scripts pass ShellCheck" shellcheck -x "$rm_dir"/ha/cluster/steps/node.remove.*.sh
fi
golden_env "$CLUSTERC_BIN" build "$TMP/ha-smaller.cluster" -o "$rm_dir" >/dev/null 2>&1
check "a second build of the smaller file still plans both removals (model.json carries them)" \
	test "$(removed_plan "$rm_dir" | LC_ALL=C sort)" = "$want"
golden_env "$CLUSTERC_BIN" build clusters/ha.cluster -o "$rm_dir" >/dev/null 2>&1
check "named in the file again, the nodes are no longer removed" test -z "$(removed_plan "$rm_dir")"
check "... and the output is the committed out/ha again" diff -r out/ha "$rm_dir/ha"
# The version skew policy, against the previous build in the output folder:
# one minor up is an upgrade; two up, or down, is refused where it is written.
up_dir=$TMP/upgrade
golden_env "$CLUSTERC_BIN" build clusters/ha.cluster -o "$up_dir" >/dev/null 2>&1
for v in 1.36 1.33 1.35; do
	sed "s/\"1\.34\"/\"$v\"/g" clusters/ha.cluster >"$TMP/ha-$v.cluster"
	golden_env "$CLUSTERC_BIN" check "$TMP/ha-$v.cluster" -o "$up_dir" >"$TMP/check-$v.log" 2>&1
	echo "rc=$?" >>"$TMP/check-$v.log"
done
check "kubernetes 1.34 -> 1.36 is refused at the attribute: it skips 1.35" \
	grep -q "ha-1.36.cluster:6:22: error\[C0453\]: Kubernetes 1.36 skips 1.35" "$TMP/check-1.36.log"
check "kubernetes 1.34 -> 1.33 is refused: kubeadm cannot downgrade" \
	grep -q "ha-1.33.cluster:6:22: error\[C0452\]: Kubernetes 1.33 is older than 1.34" "$TMP/check-1.33.log"
check "kubernetes 1.34 -> 1.35 checks clean" grep -qx "rc=0" "$TMP/check-1.35.log"
cp -a "$up_dir" "$up_dir.before"
check "... and a build refuses what check refuses, changing nothing" bash -c '
	! env -i PATH="$PATH" HOME="$4" "$1" build "$2" -o "$3" >/dev/null 2>&1 && diff -r "$3.before" "$3"' \
	_ "$CLUSTERC_BIN" "$TMP/ha-1.36.cluster" "$up_dir" "$GOLDEN_HOME"
# The upgrade steps, in kubeadm's order: per node kubernetes.upgrade ->
# kubernetes.drain.N -> kubernetes.kubelet -> kubernetes.uncordon.N, and each
# node's upgrade after the uncordon of the one before it (controls in the
# file's order, then the workers, workers_at_once chains of them).
# upgrade_chain PLAN: "NODE<-PREVIOUS" per node, in plan order ("-" for none).
upgrade_chain() {
	jq -r '.steps[] | select(.name == "kubernetes.upgrade") | .host as $h |
		([.after[] | select(startswith("kubernetes.uncordon.")) | ltrimstr("kubernetes.uncordon.") | split("@")[0]]
		 | if length == 0 then "-" else join(",") end) as $p | "\($h)<-\($p)"' "$1" | paste -sd' '
}
check "the ha upgrade goes cp-1, cp-2, cp-3, then one worker after the other" test "$(upgrade_chain out/ha/plan.json)" = \
	"cp-1<-- cp-2<-cp-1 cp-3<-cp-2 worker-1<-cp-3 worker-2<-worker-1 gpu-1<-worker-2 gpu-2<-gpu-1"
check "... each node drained from cp-1 after its kubeadm, then its kubelet, then uncordoned" jq -e '
	(reduce .steps[] as $s ({}; .[$s.id] = $s.after)) as $a |
	all(.steps[] | select(.name == "kubernetes.upgrade") | .host;
		. as $n | ($a["kubernetes.drain.\($n)@cp-1"] == ["kubernetes.upgrade@\($n)"]) and
		($a["kubernetes.kubelet@\($n)"] == ["kubernetes.drain.\($n)@cp-1"]) and
		($a["kubernetes.uncordon.\($n)@cp-1"] == ["kubernetes.kubelet@\($n)"]))' out/ha/plan.json
check "... only the drains are marked drain, and nothing on a node set up in the same run" jq -e '
	[.steps[] | select(.name | test("^kubernetes[.](upgrade|drain[.]|kubelet|uncordon[.])")) |
	 "\(.name | split(".")[:2] | join(".")):\(.impact):\(.impact_new // "-")"] | unique ==
	["kubernetes.drain:drain:none", "kubernetes.kubelet:restart:none", "kubernetes.uncordon:files:-",
	 "kubernetes.upgrade:restart:none"]' out/ha/plan.json
sed 's/^  crio *= "1.34"$/&\n  upgrade { workers_at_once = 2 }/' clusters/ha.cluster >"$TMP/ha-two.cluster"
golden_env "$CLUSTERC_BIN" build "$TMP/ha-two.cluster" -o "$TMP/two" >/dev/null 2>&1
check "workers_at_once = 2: two chains of workers after cp-3" test "$(upgrade_chain "$TMP/two/ha/plan.json")" = \
	"cp-1<-- cp-2<-cp-1 cp-3<-cp-2 worker-1<-cp-3 worker-2<-cp-3 gpu-1<-worker-1 gpu-2<-worker-2"
# ArgoCD's known host for a repository on another port is "[host]:port", and
# its keys come from the file, never from ssh-keyscan.
sed -e 's|^  repo  = env("REPOSITORY_SSH_URL")|  repo  = "ssh://git@git.lab.example.com:2222/me/homelab.git"|' clusters/homelab.cluster >"$TMP/port.cluster"
cp clusters/homelab.env "$TMP/port.env"
if golden_env "$CLUSTERC_BIN" build "$TMP/port.cluster" -o "$TMP/port" >"$TMP/port.log" 2>&1; then
	check "a repository on port 2222 is pinned as [host]:2222 with the stated key" \
		grep -q '^\[git.lab.example.com\]:2222 ssh-ed25519 AAAAC3Nza' "$TMP/port/homelab/cluster/steps/gitops.argocd.sh"
else
	fail "a repository on port 2222 builds" "$(cat "$TMP/port.log")"
fi
check "no generated script scans for host keys" bash -c '! grep -rq "ssh-keyscan" out/'

# A header names only blocks the file has: ha and bare-metal have no
# monitoring, ceph or argocd block (the firewall's headers once said
# "monitoring" there, from a test of the feature being off), and homelab
# without its monitoring and ceph blocks credits neither.
named_absent() { # named_absent OUTDIR CLUSTERFILE: the optional blocks headers name that the file lacks
	local k
	for k in ceph argocd monitoring; do
		grep -qE "^$k \{" "$2" && continue
		grep -rqE "^# Generated by clusterc from the blocks: (.*, )?$k(,|\.)" "$1" && printf ' %s' "$k"
	done
}
check "no header names a block its file does not have (ha, metal)" \
	test -z "$(named_absent out/ha clusters/ha.cluster)$(named_absent out/metal clusters/bare-metal.cluster)"
awk '/^(monitoring|ceph) \{/ { skip = 1 } skip { d += gsub(/\{/, "{") - gsub(/\}/, "}"); if (d == 0) skip = 0; next } { print }' \
	clusters/homelab.cluster >"$TMP/homelab-bare.cluster"
cp clusters/homelab.env "$TMP/homelab-bare.env"
if golden_env "$CLUSTERC_BIN" build -q "$TMP/homelab-bare.cluster" -o "$TMP/bare" >"$TMP/bare.log" 2>&1; then
	check "homelab without monitoring and ceph: no header credits them" \
		test -z "$(named_absent "$TMP/bare/homelab" "$TMP/homelab-bare.cluster")"
else
	fail "homelab without monitoring and ceph builds" "$(cat "$TMP/bare.log")"
fi
finish
