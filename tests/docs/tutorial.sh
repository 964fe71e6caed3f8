# tests/docs/tutorial.sh (sourced by run.sh): the docs' examples and the
# tutorial. Every ```cluster block of docs/*.md checks clean; docs/tutorial.md
# runs as written: its ```sh blocks in order, in one shell, from an empty
# folder (HOME under $TMP), its ```cluster block saved where the page says.
# The lab part (lab.sh up, plan, apply, status) needs root; without it the
# page runs up to the build.
DOCS=$TOP/docs

# ---- every cluster block of the docs compiles
n=0
mkdir -p "$TMP/docblocks"
for md in "$DOCS"/*.md; do
	awk -v dir="$TMP/docblocks" -v base="$(basename "$md" .md)" '
		/^```cluster$/ { n++; f = sprintf("%s/%s-%d.cluster", dir, base, n); inb = 1; next }
		/^```$/ && inb { inb = 0; close(f); next }
		inb { print > f }' "$md"
done
mkdir -p "$TMP/dochome/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/dochome/.ssh/id_ed25519" -C docs
for b in "$TMP"/docblocks/*.cluster; do
	[ -f "$b" ] || continue
	n=$((n + 1))
	check "docs: $(basename "$b" .cluster) checks clean" env HOME="$TMP/dochome" "$CLUSTERC_BIN" check "$b"
done
check "docs: at least the tutorial's cluster block was found ($n)" test "$n" -ge 1

# ---- the tutorial, as one script: each ```sh block in turn, the ```cluster
# block written to lab.cluster in the folder the page has made.
lab_ok=0
if [ "$(id -u)" = 0 ] && [ -f "$TOP/tests/lab/lab.sh" ]; then lab_ok=1; fi
awk -v lab="$lab_ok" '
	BEGIN { print "set -euo pipefail" }
	/^```sh$/ { inb = 1; k++; body = ""; next }
	/^```cluster$/ { inc = 1; print "cat >lab.cluster <<'\''TUTORIAL_CLUSTER'\''"; next }
	/^```$/ && inc { inc = 0; print "TUTORIAL_CLUSTER"; next }
	/^```$/ && inb {
		inb = 0
		# Without root the lab cannot start: the page runs up to the build.
		if (body ~ /lab\.sh" up/ && !lab) { print "exit 0"; exit }
		# The lab hosts keep their API state apart (each its own kubectl
		# shim), so what w1 told its shim when it joined, cp1 learns here.
		if (body ~ /clusterc status/) print "tutorial_joined_nodes"
		printf "echo \"::tutorial block %d\"\n%s", k, body
		next
	}
	inb { body = body $0 "\n"; next }
	inc { print }' "$DOCS/tutorial.md" >"$TMP/tutorial.sh"
mkdir -p "$TMP/tutorial/home"
(
	cd "$TMP/tutorial" || exit 1
	export HOME=$TMP/tutorial/home XDG_STATE_HOME=$TMP/tutorial/state CLUSTERC_SRC=$TOP
	export PATH="$(dirname "$CLUSTERC_BIN"):$PATH"
	tutorial_joined_nodes() {
		bash "$CLUSTERC_SRC/tests/lab/lab.sh" exec "$PWD/lab/cp1" -- kubectl label node w1 \
			clusterc.io/lab-joined=true >/dev/null
		# Cilium's chart in the lab leaves a DaemonSet the status script reads.
		bash "$CLUSTERC_SRC/tests/lab/lab.sh" exec "$PWD/lab/cp1" -- kubectl -n kube-system patch \
			daemonset cilium --type merge -p '{"status":{"desiredNumberScheduled":2,"numberReady":2}}' >/dev/null
	}
	export -f tutorial_joined_nodes
	bash "$TMP/tutorial.sh"
) >"$TMP/tutorial.out" 2>&1
rc=$?
# Tear the lab down even when the page failed half-way.
[ -d "$TMP/tutorial/lab-cluster/lab" ] && bash "$TOP/tests/lab/lab.sh" down "$TMP/tutorial/lab-cluster/lab" >/dev/null 2>&1
check "tutorial: every command of docs/tutorial.md runs (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || tail -n 30 "$TMP/tutorial.out"
if [ "$lab_ok" = 1 ]; then
	check "tutorial: the apply succeeds, every step ok" grep -qE '^apply: [1-9][0-9]* ok, 0 skipped, 0 failed, 0 blocked' "$TMP/tutorial.out"
	check "tutorial: the second apply skips every step" grep -qE '^apply: 0 ok, [1-9][0-9]* skipped, 0 failed' "$TMP/tutorial.out"
	check "tutorial: the summary names the kubeconfig" grep -qE '^  kubeconfig +~/\.kube/lab\.conf' "$TMP/tutorial.out"
	check "tutorial: status is all ok" grep -qE '^  ok   nodes +2/2 Ready' "$TMP/tutorial.out"
else
	echo "note: not root: the tutorial ran up to the build only"
fi
