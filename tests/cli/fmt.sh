# tests/cli/fmt.sh: clusterc fmt (sourced by run.sh).
# On every clusters/*.cluster and every tests/diagnostics case: fmt is
# idempotent and keeps every comment; where the case checks clean, the
# formatted file builds to byte-identical output; where it is rejected, it is
# rejected with the same messages. Then a messy fixture against its golden
# layout, --check, -w (atomic, mode kept) and a file with syntax errors.
FMT_DIR=$TOP/tests/cli/fmt

# fmt_case NAME DIR FILE ENVIRON: FILE (relative to DIR) formatted in a copy
# of DIR; ENVIRON is a file of NAME=VALUE lines for the run, or empty.
fmt_case() {
	local name=$1 dir=$2 file=$3 environ=$4 vars=("${CLI_ENV[@]}") line
	if [ -n "$environ" ] && [ -f "$environ" ]; then
		while IFS= read -r line || [ -n "$line" ]; do
			case $line in '' | '#'*) continue ;; esac
			vars+=("$line")
		done <"$environ"
	fi
	local a=$TMP/fmt/$name/a b=$TMP/fmt/$name/b
	mkdir -p "$a" "$b"
	cp -r "$dir"/. "$a"/ && cp -r "$dir"/. "$b"/
	if ! (cd "$b" && clusterc fmt "$file" >"$TMP/fmt.out" 2>"$TMP/fmt.err"); then
		# Only a file the parser rejects may be refused: each error fmt
		# reports is one check reports too.
		(cd "$a" && env -i "${vars[@]}" "$CLUSTERC_BIN" check "$file") >/dev/null 2>"$TMP/check.err"
		if grep -q ': error\[C[0-9]*\]: ' "$TMP/fmt.err" &&
			[ -z "$(grep ': error\[C[0-9]*\]: ' "$TMP/fmt.err" | grep -vxF -f "$TMP/check.err")" ]; then
			pass "fmt $name: refused with the parser's errors"
		else
			fail "fmt $name: refused, but not for a parse error" "$(cat "$TMP/fmt.err")"
		fi
		return
	fi
	cp "$TMP/fmt.out" "$b/$file"
	if (cd "$b" && clusterc fmt --check "$file" >"$TMP/fmt.check"); then
		pass "fmt $name: idempotent"
	else
		fail "fmt $name: not idempotent" "$(cd "$b" && clusterc fmt "$file" | diff -u "$file" -)"
	fi
	if diff <(LC_ALL=C awk -f "$TOP/tests/cli/comments.awk" "$a/$file") \
		<(LC_ALL=C awk -f "$TOP/tests/cli/comments.awk" "$b/$file") >"$TMP/fmt.diff"; then
		pass "fmt $name: comments kept"
	else
		fail "fmt $name: comments changed" "$(cat "$TMP/fmt.diff")"
	fi
	local rc_a rc_b
	(cd "$a" && env -i "${vars[@]}" "$CLUSTERC_BIN" build "$file" -o out) >/dev/null 2>"$TMP/err.a"
	rc_a=$?
	(cd "$b" && env -i "${vars[@]}" "$CLUSTERC_BIN" build "$file" -o out) >/dev/null 2>"$TMP/err.b"
	rc_b=$?
	if [ "$rc_a" = 0 ]; then
		if [ "$rc_b" = 0 ] && diff -r "$a/out" "$b/out" >"$TMP/fmt.diff"; then
			pass "fmt $name: same build output"
		else
			fail "fmt $name: the formatted file builds differently" "$(cat "$TMP/err.b" "$TMP/fmt.diff")"
		fi
	else
		# Rejected either way, with the same messages (locations aside).
		local strip='s/^[^ ]*:[0-9]*:[0-9]*: //p'
		if [ "$rc_b" = "$rc_a" ] && diff <(sed -n "$strip" "$TMP/err.a" | sort) \
			<(sed -n "$strip" "$TMP/err.b" | sort) >"$TMP/fmt.diff"; then
			pass "fmt $name: same diagnostics"
		else
			fail "fmt $name: the formatted file is judged differently" "$(cat "$TMP/fmt.diff")"
		fi
	fi
}

shopt -s nullglob
for f in "$TOP"/clusters/*.cluster; do
	fmt_case "$(basename "$f" .cluster)" "$TOP/clusters" "$(basename "$f")" ""
done
DIAG=$TOP/tests/diagnostics
for f in "$DIAG"/*.cluster; do
	n=$(basename "$f" .cluster)
	mkdir -p "$TMP/case/$n"
	cp "$f" "$TMP/case/$n/"
	[ -f "$DIAG/$n.env" ] && cp "$DIAG/$n.env" "$TMP/case/$n/"
	fmt_case "diagnostics/$n" "$TMP/case/$n" "$n.cluster" "$DIAG/$n.environ"
done
for d in "$DIAG"/*/; do
	n=$(basename "$d")
	[ -f "$d/main.cluster" ] && fmt_case "diagnostics/$n" "$d" main.cluster "$DIAG/$n.environ"
done

# The messy fixture: every layout rule and comment position, against its golden.
(cd "$FMT_DIR" && clusterc fmt messy.cluster) >"$TMP/messy.out" 2>&1
golden "fmt: messy.cluster layout" "$TMP/messy.out" "$FMT_DIR/messy.formatted"
fmt_case "fixture messy" "$FMT_DIR" messy.cluster ""

# --check names the files that would change and exits 1; formatted ones pass.
cp "$FMT_DIR/messy.cluster" "$TMP/m.cluster"
cp "$FMT_DIR/messy.formatted" "$TMP/ok.cluster"
(cd "$TMP" && clusterc fmt --check ok.cluster m.cluster) >"$TMP/check.out" 2>&1
rc=$?
if [ "$rc" = 1 ] && [ "$(cat "$TMP/check.out")" = m.cluster ]; then
	pass "fmt --check: exit 1, names only the file that would change"
else
	fail "fmt --check" "exit $rc: $(cat "$TMP/check.out")"
fi
check "fmt --check: a formatted file passes" clusterc fmt --check "$TMP/ok.cluster"

# -w rewrites in place, keeps the mode, leaves no temp file; a second -w changes nothing.
chmod 0640 "$TMP/m.cluster"
if clusterc fmt -w "$TMP/m.cluster" && cmp -s "$TMP/m.cluster" "$FMT_DIR/messy.formatted" &&
	[ "$(stat -c %a "$TMP/m.cluster")" = 640 ] && [ ! -e "$TMP/m.cluster.tmp" ]; then
	pass "fmt -w: rewritten, mode 0640 kept, no temp file left"
else
	fail "fmt -w" "mode $(stat -c %a "$TMP/m.cluster"); $(diff "$TMP/m.cluster" "$FMT_DIR/messy.formatted" | head)"
fi

# A file with a syntax error: reported, exit 1, not rewritten.
printf 'cluster x {\n  kubernetes = \n' >"$TMP/bad.cluster"
cp "$TMP/bad.cluster" "$TMP/bad.orig"
clusterc fmt -w "$TMP/bad.cluster" >/dev/null 2>"$TMP/bad.err"
rc=$?
if [ "$rc" = 1 ] && grep -q 'syntax error' "$TMP/bad.err" && cmp -s "$TMP/bad.cluster" "$TMP/bad.orig"; then
	pass "fmt -w: a file with a syntax error is reported and left alone"
else
	fail "fmt -w on a syntax error" "exit $rc: $(cat "$TMP/bad.err")"
fi
clusterc fmt -w --check "$TMP/ok.cluster" >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] && pass "fmt: -w with --check is a usage error" || fail "fmt: -w with --check" "exit $rc"
