#!/usr/bin/env bash
# tests/diagnostics/run.sh: every invalid input and its expected diagnostics.
#
# A case is one of
#   NNN-name.cluster          a single file,
#   NNN-name/main.cluster     several files (imports), in a folder,
#   NNN-name.gen              a script whose stdout is the input (for inputs too
#                             big to commit, such as a 1 MB line),
# beside its golden stderr NNN-name.stderr. Optional companions:
#   NNN-name.rc       the expected exit status (default 1),
#   NNN-name.args     extra arguments for `clusterc check` (such as --werror),
#   NNN-name.environ  NAME=VALUE lines exported for the run (the process
#                     environment; NNN-name.env is clusterc's own .env file).
# Every case runs with a fixed environment: env -i, NO_COLOR=1, LC_ALL=C, and
# HOME a temp dir holding a fake ~/.ssh/id_ed25519.pub. `clusterc check` runs
# from the case's folder with a relative path, so goldens hold no temp paths.
#
# Per case: stderr equals the golden, the exit status matches, stdout is empty,
# and (once `clusterc build` of a valid example succeeds) a failing
# `clusterc build CASE -o DIR` leaves DIR byte for byte as it was.
# Then: colour only on a terminal and never with NO_COLOR or TERM=dumb.
#
# UPDATE_GOLDEN=1 rewrites the goldens (review the diff). VALGRIND=1 runs
# clusterc under valgrind; CLUSTERC_BIN picks the binary (build/san/clusterc);
# DIAG_NO_BUILD=1 skips the build assertions. DIAG_SHARD=I/N runs every Nth
# case from the Ith (0-based), and the several-files cases only in shard 0, so
# N processes share the cases (tests/fuzz/run.sh under valgrind). Extra
# arguments name cases to run (by prefix).
source "$(dirname "$0")/../lib.sh"
HERE=$TOP/tests/diagnostics
cd "$HERE" || exit 1

if [ ! -x "$CLUSTERC_BIN" ]; then
	fail "diagnostics: no clusterc binary at $CLUSTERC_BIN (run make)"
	finish
	exit 1
fi

fixed_env
BASE_ENV=("${FIXED_ENV[@]}")

# run_clusterc DIR ENVFILE CMD...: runs clusterc in DIR with the fixed
# environment plus ENVFILE's variables (if any); under valgrind with
# VALGRIND=1, as lib.sh's clusterc() does.
run_clusterc() {
	local dir=$1 envfile=$2
	shift 2
	local vars=("${BASE_ENV[@]}") line
	if [ -n "$envfile" ] && [ -f "$envfile" ]; then
		while IFS= read -r line || [ -n "$line" ]; do
			case $line in '' | '#'*) continue ;; esac
			vars+=("$line")
		done <"$envfile"
	fi
	local pre=()
	if [ "${VALGRIND:-}" = 1 ]; then
		pre=("$(command -v valgrind)" -q --leak-check=full --show-leak-kinds=all
			--errors-for-leak-kinds=all --error-exitcode=99)
	fi
	(cd "$dir" && env -i "${vars[@]}" "${pre[@]}" "$CLUSTERC_BIN" "$@")
}

# A listing of a folder with every file's hash, to prove it did not change.
snapshot() {
	(cd "$1" && find . -printf '%p %y %s %m\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# Is `clusterc build` wired? Only then can a failed build be shown to write nothing.
BUILD_WIRED=0
mkdir -p "$TMP/probe"
if [ -n "${DIAG_NO_BUILD:-}" ]; then
	: # asked to skip the build assertions (tests/fuzz/run.sh under valgrind)
elif env -i "${BASE_ENV[@]}" "$CLUSTERC_BIN" build "$TOP/clusters/bare-metal.cluster" \
	-o "$TMP/probe/out" >"$TMP/probe/log" 2>&1; then
	BUILD_WIRED=1
else
	echo "note: 'clusterc build' of clusters/bare-metal.cluster fails (not wired yet?):"
	echo "note: skipping the 'failed build leaves the output folder unchanged' assertions"
	sed 's/^/note:   /' "$TMP/probe/log" | head -n 5
fi

# The output folder a failing build must leave alone: a cluster folder of the
# name most cases use, and an unrelated file.
make_outdir() {
	rm -rf "$1"
	mkdir -p "$1/demo" "$1/other"
	printf '{"format": 1, "cluster": "demo", "steps": []}\n' >"$1/demo/plan.json"
	printf 'keep me\n' >"$1/other/notes.txt"
}

# run_case NAME DIR INPUT: INPUT is relative to DIR.
run_case() {
	local name=$1 dir=$2 input=$3
	local expected_rc=1 args=() rc
	[ -f "$HERE/$name.rc" ] && expected_rc=$(tr -d ' \n' <"$HERE/$name.rc")
	if [ -f "$HERE/$name.args" ]; then
		read -r -a args <"$HERE/$name.args"
	fi
	local out=$TMP/$name.stdout err=$TMP/$name.stderr
	run_clusterc "$dir" "$HERE/$name.environ" check "${args[@]}" "$input" >"$out" 2>"$err"
	rc=$?
	golden "$name" "$err" "$HERE/$name.stderr"
	if [ "$rc" != "$expected_rc" ]; then
		fail "$name: exit status" "expected $expected_rc, got $rc"
	elif [ -s "$out" ]; then
		fail "$name: stdout" "check printed to stdout: $(head -c 300 "$out")"
	fi
	# A failing build writes nothing.
	if [ "$BUILD_WIRED" = 1 ] && [ "$expected_rc" != 0 ] && [ -z "${DIAG_NO_BUILD:-}" ]; then
		local od=$TMP/out-$name
		make_outdir "$od"
		snapshot "$od" >"$TMP/before"
		run_clusterc "$dir" "$HERE/$name.environ" build "${args[@]}" "$input" -o "$od" \
			>/dev/null 2>"$TMP/build.err"
		rc=$?
		snapshot "$od" >"$TMP/after"
		if [ "$rc" = 0 ]; then
			fail "$name: build" "clusterc build succeeded on an invalid input"
		elif ! diff -u "$TMP/before" "$TMP/after" >"$TMP/snap.diff"; then
			fail "$name: build changed the output folder" "$(cat "$TMP/snap.diff")"
		fi
		rm -rf "$od"
	fi
}

selected() {
	local name=$1 p
	[ ${#FILTER[@]} -eq 0 ] && return 0
	for p in "${FILTER[@]}"; do
		[[ $name == "$p"* ]] && return 0
	done
	return 1
}
FILTER=("$@")
SHARD_I=0 SHARD_N=1
if [ -n "${DIAG_SHARD:-}" ]; then
	SHARD_I=${DIAG_SHARD%/*} SHARD_N=${DIAG_SHARD#*/}
fi
in_shard() { [ $(($1 % SHARD_N)) = "$SHARD_I" ]; }

shopt -s nullglob
ncases=0
nseen=0
mkdir -p "$TMP/gen"
for f in [0-9][0-9][0-9]-*.cluster [0-9][0-9][0-9]-*/main.cluster [0-9][0-9][0-9]-*.gen; do
	case $f in
	*/main.cluster) name=${f%/main.cluster} ;;
	*.gen) name=${f%.gen} ;;
	*) name=${f%.cluster} ;;
	esac
	selected "$name" || continue
	nseen=$((nseen + 1))
	in_shard "$nseen" || continue
	ncases=$((ncases + 1))
	case $f in
	*.gen)
		if ! bash "$HERE/$f" >"$TMP/gen/$name.cluster"; then
			fail "$name: generator failed"
			continue
		fi
		run_case "$name" "$TMP/gen" "$name.cluster"
		;;
	*) run_case "$name" "$HERE" "$f" ;;
	esac
done

# Every golden belongs to a case (a renamed case leaves none behind).
for g in [0-9][0-9][0-9]-*.stderr; do
	name=${g%.stderr}
	selected "$name" || continue
	if [ ! -e "$name.cluster" ] && [ ! -e "$name/main.cluster" ] && [ ! -e "$name.gen" ]; then
		fail "$name: golden without a case" "remove $g or restore its input"
	fi
done

# ---- several files in one run: each is reported on its own, exit 1 if any fails
if [ ${#FILTER[@]} -eq 0 ] && [ "$SHARD_I" = 0 ]; then
	cp "$TOP/clusters/bare-metal.cluster" "$TMP/gen/valid.cluster"
	run_clusterc "$HERE" "" check "$TMP/gen/valid.cluster" 040-unknown-block-type.cluster \
		"$TMP/gen/valid.cluster" 060-duplicate-node-names.cluster >"$TMP/multi.out" 2>"$TMP/multi.err"
	rc=$?
	cat 040-unknown-block-type.stderr 060-duplicate-node-names.stderr >"$TMP/multi.want"
	if [ "$rc" = 1 ] && diff -u "$TMP/multi.want" "$TMP/multi.err" >"$TMP/multi.diff"; then
		pass "several files: each reported, exit 1"
	else
		fail "several files: each reported, exit 1" "exit $rc; $(cat "$TMP/multi.diff")"
	fi
	run_clusterc "$HERE" "" check "$TMP/gen/valid.cluster" "$TMP/gen/valid.cluster" >"$TMP/multi.out" 2>"$TMP/multi.err"
	rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$TMP/multi.err" ] && [ ! -s "$TMP/multi.out" ]; then
		pass "valid files: silent, exit 0"
	else
		fail "valid files: silent, exit 0" "exit $rc; $(cat "$TMP/multi.err")"
	fi
	run_clusterc "$HERE" "" check >/dev/null 2>"$TMP/usage.err"
	rc=$?
	if [ "$rc" = 2 ] && grep -q '^usage: clusterc check' "$TMP/usage.err"; then
		pass "no file: usage, exit 2"
	else
		fail "no file: usage, exit 2" "exit $rc; $(cat "$TMP/usage.err")"
	fi
	run_clusterc "$HERE" "" check "$TMP/gen/no-such.cluster" >/dev/null 2>"$TMP/missing.err"
	rc=$?
	if [ "$rc" = 1 ] && grep -q "error\[C0201\]: cannot read '.*no-such.cluster': No such file or directory" "$TMP/missing.err"; then
		pass "missing file: an error, exit 1"
	else
		fail "missing file: an error, exit 1" "exit $rc; $(cat "$TMP/missing.err")"
	fi
fi

# ---- colour: only on a terminal, never with NO_COLOR or TERM=dumb
if [ ${#FILTER[@]} -eq 0 ] && [ "$SHARD_I" = 0 ]; then
	CASE=040-unknown-block-type.cluster
	has_esc() { grep -q $'\033\\[' "$1"; }
	# stderr is a file: no colour even without NO_COLOR.
	env -i PATH=/usr/bin:/bin HOME="$FAKE_HOME" TERM=xterm-256color \
		"$CLUSTERC_BIN" check "$CASE" >/dev/null 2>"$TMP/c1"
	if has_esc "$TMP/c1"; then fail "colour: none when stderr is not a terminal"; else pass "colour: none when stderr is not a terminal"; fi
	if command -v script >/dev/null; then
		# On a pty (script from bsdutils), with and without NO_COLOR.
		env -i PATH=/usr/bin:/bin HOME="$FAKE_HOME" TERM=xterm-256color \
			script -qec "'$CLUSTERC_BIN' check $CASE" /dev/null >"$TMP/c2" 2>&1 </dev/null
		rc=$?
		if has_esc "$TMP/c2" && grep -q 'unknown block type' "$TMP/c2" && [ "$rc" = 1 ]; then
			pass "colour: present on a terminal"
		else
			fail "colour: present on a terminal" "exit $rc; $(head -c 400 "$TMP/c2" | cat -v)"
		fi
		# The coloured text is the golden text once the escapes are removed.
		sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\r$//' "$TMP/c2" >"$TMP/c2.plain"
		if diff -u "${CASE%.cluster}.stderr" "$TMP/c2.plain" >"$TMP/c2.diff"; then
			pass "colour: same text as without colour"
		else
			fail "colour: same text as without colour" "$(cat "$TMP/c2.diff")"
		fi
		env -i PATH=/usr/bin:/bin HOME="$FAKE_HOME" TERM=xterm-256color NO_COLOR=1 \
			script -qec "'$CLUSTERC_BIN' check $CASE" /dev/null >"$TMP/c3" 2>&1 </dev/null
		if has_esc "$TMP/c3"; then fail "colour: none with NO_COLOR=1 on a terminal"; else pass "colour: none with NO_COLOR=1 on a terminal"; fi
		env -i PATH=/usr/bin:/bin HOME="$FAKE_HOME" TERM=dumb \
			script -qec "'$CLUSTERC_BIN' check $CASE" /dev/null >"$TMP/c4" 2>&1 </dev/null
		if has_esc "$TMP/c4"; then fail "colour: none with TERM=dumb"; else pass "colour: none with TERM=dumb"; fi
	else
		echo "note: script(1) not found (bsdutils): colour on a terminal not tested"
	fi
fi

echo "$ncases cases"
finish
