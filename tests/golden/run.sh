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
if diff -r "$TMP/keep.before" "$TMP/keep" >/dev/null && [ -z "$(find "$TMP/keep" -name '.*' -print -quit)" ]; then
	pass "a failed build changes nothing"
else
	fail "a failed build changes nothing" "$(diff -r "$TMP/keep.before" "$TMP/keep" | head)"
fi
finish
