# tests/cli/import_env.sh: clusterc import-env (sourced by run.sh).
# example.env (the reference project's .env, from the seed's description)
# imports to a .cluster that checks clean and builds, with secrets as
# secret() references and no secret value in it; an unknown variable is
# named on stderr; the output is already in fmt's layout.
IMP=$TMP/import
mkdir -p "$IMP"
cp "$TOP/tests/cli/import/example.env" "$IMP/homelab.env"
if (cd "$IMP" && clusterc import-env homelab.env -o homelab.cluster) 2>"$TMP/imp.err"; then
	pass "import-env example.env: written"
else
	fail "import-env example.env" "$(cat "$TMP/imp.err")"
fi
if [ ! -s "$TMP/imp.err" ]; then
	pass "import-env example.env: every variable carried over"
else
	fail "import-env example.env: variables left over" "$(cat "$TMP/imp.err")"
fi
(cd "$IMP" && env -i "${CLI_ENV[@]}" "$CLUSTERC_BIN" check homelab.cluster) >/dev/null 2>"$TMP/imp.check"
rc=$?
if [ "$rc" = 0 ] && ! grep -q 'error' "$TMP/imp.check"; then
	pass "import-env: the result checks clean"
else
	fail "import-env: check" "exit $rc: $(cat "$TMP/imp.check")"
fi
if (cd "$IMP" && env -i "${CLI_ENV[@]}" "$CLUSTERC_BIN" build homelab.cluster -o out) >/dev/null 2>"$TMP/imp.build"; then
	pass "import-env: the result builds"
else
	fail "import-env: build" "$(cat "$TMP/imp.build")"
fi
leaked=
for v in example-password example-token QVFERXhhbXBsZUtleQ==; do
	grep -rqF -- "$v" "$IMP/homelab.cluster" "$IMP/out" 2>/dev/null && leaked="$leaked $v"
done
if [ -z "$leaked" ] && grep -q 'password *= secret("PROXMOX_API_PASSWORD")' "$IMP/homelab.cluster" &&
	grep -q 'token *= secret("REPOSITORY_TOKEN")' "$IMP/homelab.cluster" &&
	grep -q 'key *= secret("CEPH_K8S_KEY")' "$IMP/homelab.cluster"; then
	pass "import-env: secrets are secret() references, no value in the file or out/"
else
	fail "import-env: secrets" "leaked:$leaked"
fi
if (cd "$IMP" && clusterc fmt --check homelab.cluster) >/dev/null 2>&1; then
	pass "import-env: the result is in fmt's layout"
else
	fail "import-env: not in fmt's layout" "$(cd "$IMP" && clusterc fmt homelab.cluster | diff homelab.cluster - | head)"
fi

# An unknown variable: named on stderr, the rest still imported.
{ cat "$TOP/tests/cli/import/example.env"; echo "MY_OWN_SETTING=42"; echo "VM_CPU_TYPE=host"; } >"$IMP/extra.env"
clusterc import-env "$IMP/extra.env" >"$TMP/extra.cluster" 2>"$TMP/extra.err"
rc=$?
if [ "$rc" = 0 ] && grep -q 'MY_OWN_SETTING is not carried over' "$TMP/extra.err" &&
	grep -q 'VM_CPU_TYPE is not carried over' "$TMP/extra.err" && [ "$(wc -l <"$TMP/extra.err")" = 2 ] &&
	! grep -q 'MY_OWN_SETTING' "$TMP/extra.cluster" && grep -q '^cluster homelab' "$TMP/extra.cluster"; then
	pass "import-env: unknown variables listed on stderr, not dropped silently"
else
	fail "import-env: unknown variables" "exit $rc: $(cat "$TMP/extra.err")"
fi
clusterc import-env "$IMP/missing.env" >/dev/null 2>"$TMP/missing.err"
rc=$?
[ "$rc" = 2 ] && grep -q 'cannot read' "$TMP/missing.err" && pass "import-env: a missing .env is exit 2" ||
	fail "import-env: missing .env" "exit $rc: $(cat "$TMP/missing.err")"
