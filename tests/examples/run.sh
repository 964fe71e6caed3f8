#!/usr/bin/env bash
# tests/examples/run.sh: every example must check clean (warnings allowed,
# errors not): clusters/*.cluster, and every ``` code block of LANGUAGE.md that
# is .cluster text, extracted at test time so the doc and the compiler cannot
# drift apart. A block that is only part of a file (no cluster block, or no
# node) is completed with a minimal cluster around it.
#
# Runs with a fixed environment: env -i, NO_COLOR=1, HOME a temp dir with a
# fake ~/.ssh/id_ed25519.pub, and the variables LANGUAGE.md's example reads.
source "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

if [ ! -x "$CLUSTERC_BIN" ]; then
	fail "examples: no clusterc binary at $CLUSTERC_BIN (run make)"
	finish
	exit 1
fi

FAKE_HOME=$TMP/home
mkdir -p "$FAKE_HOME/.ssh"
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExamplesExamplesExamplesExamplesExamplesExa test@clusterc" \
	>"$FAKE_HOME/.ssh/id_ed25519.pub"
ENV=(PATH=/usr/local/bin:/usr/bin:/bin HOME="$FAKE_HOME" NO_COLOR=1 LC_ALL=C
	PROXMOX_API_HOST=pve.example.lan PROXMOX_API_USER=root@pam PROXMOX_NODE=pve
	CEPH_FSID=a7f64266-0894-4f1e-a635-d0aeaca0e993
	REPOSITORY_SSH_URL=git@gitlab.example.com:me/homelab.git)

# check_clean NAME DIR FILE: `clusterc check FILE` in DIR exits 0 with no error.
check_clean() {
	local name=$1 dir=$2 file=$3 rc pre=()
	if [ "${VALGRIND:-}" = 1 ]; then
		pre=("$(command -v valgrind)" -q --leak-check=full --show-leak-kinds=all
			--errors-for-leak-kinds=all --error-exitcode=99)
	fi
	(cd "$dir" && env -i "${ENV[@]}" "${pre[@]}" "$CLUSTERC_BIN" check "$file") \
		>"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -ne 0 ] || grep -qE 'error(\[C[0-9]{4}\])?:' "$TMP/err"; then
		fail "$name (exit $rc)" "$(cat "$TMP/err")"
	else
		pass "$name$(grep -qE 'warning(\[C[0-9]{4}\])?:' "$TMP/err" && echo ' (with warnings)')"
	fi
}

shopt -s nullglob
examples=(clusters/*.cluster)
if [ ${#examples[@]} -eq 0 ]; then
	fail "examples: no clusters/*.cluster"
fi
for f in "${examples[@]}"; do
	check_clean "$f" clusters "$(basename "$f")"
done

# ---- an optional field left out (ceph's admin_key): what checks clean builds too
mkdir -p "$TMP/opt"
sed '/^[[:space:]]*admin_key[[:space:]]*=/d' clusters/homelab.cluster >"$TMP/opt/homelab.cluster"
cp clusters/homelab.env "$TMP/opt/"
if grep -q admin_key "$TMP/opt/homelab.cluster"; then
	fail "ceph without admin_key: the example still sets it"
elif (cd "$TMP/opt" && env -i "${ENV[@]}" "$CLUSTERC_BIN" check homelab.cluster &&
	env -i "${ENV[@]}" "$CLUSTERC_BIN" build homelab.cluster -o out) >"$TMP/out" 2>"$TMP/err" &&
	[ "$(jq -c '.steps[] | select(.name == "storage.ceph") | .secrets' "$TMP/opt/out/homelab/plan.json")" = '["CEPH_K8S_KEY"]' ]; then
	pass "ceph without admin_key: checks clean and builds (its step takes the one key)"
else
	fail "ceph without admin_key: checks clean and builds" "$(cat "$TMP/err")"
fi

# ---- LANGUAGE.md's code blocks
DOC=$SHARED/LANGUAGE.md
if [ ! -f "$DOC" ]; then
	fail "examples: $DOC not found (set SHARED)"
	finish
	exit
fi
mkdir -p "$TMP/doc"
# Writes block N (fenced with ``` and no language, or ```cluster) to
# $TMP/doc/block-N.cluster; blocks in other languages are not .cluster text.
awk -v dir="$TMP/doc" '
	/^```/ {
		if (inblock) { inblock = 0; close(out); next }
		lang = substr($0, 4); gsub(/[ \t]/, "", lang)
		inblock = 1; n++
		out = (lang == "" || lang == "cluster") ? sprintf("%s/block-%d.cluster", dir, n) : "/dev/null"
		next
	}
	inblock { print > out }
' "$DOC"
blocks=("$TMP"/doc/block-*.cluster)
if [ ${#blocks[@]} -eq 0 ]; then
	fail "examples: no .cluster code block found in LANGUAGE.md"
fi
for b in "${blocks[@]}"; do
	name="LANGUAGE.md $(basename "$b" .cluster)"
	if ! grep -qE '^[[:space:]]*(cluster|node|proxmox|network|image|ceph|argocd|app|monitoring|versions|import)\b' "$b"; then
		echo "note: $name holds no .cluster blocks; skipped"
		continue
	fi
	# Complete a partial example with what every cluster needs.
	if ! grep -qE '^[[:space:]]*cluster[[:space:]]' "$b"; then
		printf 'cluster doc {\n  kubernetes = "1.34"\n  crio       = "1.34"\n}\n' >>"$b"
		name="$name (partial)"
	fi
	if ! grep -qE '^[[:space:]]*node[[:space:]]' "$b"; then
		grep -qE '^[[:space:]]*network[[:space:]]*\{' "$b" ||
			printf 'network {\n  gateway = 192.168.1.1\n}\n' >>"$b"
		printf 'node doc-control {\n  role = control\n  ip   = 192.168.1.250/24\n}\n' >>"$b"
	fi
	check_clean "$name" "$TMP/doc" "$(basename "$b")"
done
finish
