#!/usr/bin/env bash
# tests/fuzz/run.sh: the front end under hostile input, for `make check`.
#  1. a short libFuzzer run of build/fuzz/fuzz_parse (FUZZ_CHECK_SECONDS, default
#     25) seeded with tests/fuzz/corpus/, in a temp copy (the committed corpus
#     is not touched); any crash, leak, timeout or UB fails it;
#  2. valgrind (--leak-check=full --errors-for-leak-kinds=all) of
#     `clusterc check` over every corpus file, and of the diagnostics cases
#     (tests/diagnostics/run.sh with VALGRIND=1, goldens compared as usual):
#     zero errors, zero leaks;
#  3. the ASan+UBSan build (make SANITIZE=address,undefined, build/san/clusterc)
#     over the same corpus and diagnostics cases.
# Each input may be valid or not (exit 0 or 1); anything else fails.
# FUZZ_SKIP_VALGRIND=1 or FUZZ_SKIP_SAN=1 skip a part (with a visible note).
source "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

CORPUS=$TOP/tests/fuzz/corpus
SECONDS_FUZZ=${FUZZ_CHECK_SECONDS:-25}
FAKE_HOME=$TMP/home
mkdir -p "$FAKE_HOME/.ssh"
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzz test@clusterc" \
	>"$FAKE_HOME/.ssh/id_ed25519.pub"
shopt -s nullglob
inputs=("$CORPUS"/*)
if [ ${#inputs[@]} -eq 0 ]; then
	fail "fuzz: the corpus $CORPUS is empty"
fi

# ---- 1. libFuzzer, briefly
if command -v "${FUZZ_CC:-clang}" >/dev/null; then
	if make --no-print-directory -f tests/fuzz/fuzz.mk build >"$TMP/fuzz-build.log" 2>&1; then
		pass "fuzz: build/fuzz/fuzz_parse builds"
		mkdir -p "$TMP/fz/corpus"
		cp "${inputs[@]}" "$TMP/fz/corpus/"
		(cd "$TMP/fz" && env -i PATH=/usr/bin:/bin HOME="$FAKE_HOME" \
			ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			"$TOP/build/fuzz/fuzz_parse" -max_total_time="$SECONDS_FUZZ" \
			-dict="$TOP/tests/fuzz/cluster.dict" -max_len=16384 -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 corpus) >"$TMP/fuzz.log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TMP/fuzz.log")
		found=("$TMP"/fz/crash-* "$TMP"/fz/leak-* "$TMP"/fz/timeout-* "$TMP"/fz/oom-*)
		if [ "$rc" -eq 0 ] && [ ${#found[@]} -eq 0 ]; then
			pass "fuzz: ${SECONDS_FUZZ}s of fuzz_parse, ${execs:-?} inputs, nothing found"
		else
			for f in "${found[@]}"; do
				mkdir -p build/fuzz/found && cp "$f" build/fuzz/found/
			done
			fail "fuzz: fuzz_parse found a problem (exit $rc; inputs kept in build/fuzz/found/)" \
				"$(grep -a -m1 -A12 -E 'ERROR|runtime error|Timeout|leak' "$TMP/fuzz.log")"
		fi
	else
		fail "fuzz: build/fuzz/fuzz_parse does not build" "$(tail -n 30 "$TMP/fuzz-build.log")"
	fi
else
	echo "note: ${FUZZ_CC:-clang} not found: the libFuzzer run is skipped"
fi

# run_corpus LABEL BIN PREFIX...: `BIN check FILE` for every corpus file, from
# the corpus folder, one per core at a time (valgrind is the slowest part of
# make check); exit 0 or 1 and no sanitizer report pass.
run_corpus() {
	local label=$1 bin=$2
	shift 2
	local bad=() f i=0 jobs=0 rc max
	max=$(nproc 2>/dev/null || echo 2)
	mkdir -p "$TMP/corpus-run"
	for f in "${inputs[@]}"; do
		i=$((i + 1))
		(
			cd "$CORPUS" && env -i PATH=/usr/bin:/bin HOME="$FAKE_HOME" NO_COLOR=1 LC_ALL=C \
				ASAN_OPTIONS=exitcode=86:detect_leaks=1 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1 \
				"$@" "$bin" check "$(basename "$f")" >/dev/null 2>"$TMP/corpus-run/$i.err"
			echo $? >"$TMP/corpus-run/$i.rc"
		) &
		jobs=$((jobs + 1))
		if [ "$jobs" -ge "$max" ]; then
			wait -n
			jobs=$((jobs - 1))
		fi
	done
	wait
	i=0
	for f in "${inputs[@]}"; do
		i=$((i + 1))
		rc=$(cat "$TMP/corpus-run/$i.rc" 2>/dev/null || echo none)
		if { [ "$rc" != 0 ] && [ "$rc" != 1 ]; } ||
			grep -a -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|^==[0-9]+== ' "$TMP/corpus-run/$i.err"; then
			bad+=("$(basename "$f") (exit $rc): $(grep -a -m3 -E 'ERROR|runtime error|==[0-9]+==' "$TMP/corpus-run/$i.err" | tr '\n' ' ')")
		fi
	done
	rm -rf "$TMP/corpus-run"
	if [ ${#bad[@]} -eq 0 ]; then
		pass "$label: ${#inputs[@]} corpus files"
	else
		fail "$label: ${#bad[@]} of ${#inputs[@]} corpus files" "$(printf '%s\n' "${bad[@]}")"
	fi
}

# run_diagnostics LABEL VAR=VALUE...: the diagnostics driver with those
# settings, its cases shared by one process per core (under valgrind this was
# the slowest part of make check).
run_diagnostics() {
	local label=$1
	shift
	local n i pids=() bad=0 cases=0 c
	n=$(nproc 2>/dev/null || echo 2)
	for ((i = 0; i < n; i++)); do
		env "$@" DIAG_SHARD="$i/$n" DIAG_NO_BUILD=1 QUIET=1 bash tests/diagnostics/run.sh \
			>"$TMP/diag.$i.log" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || bad=1
		c=$(grep -oE '^[0-9]+ cases' "$TMP/diag.$i.log" | grep -oE '^[0-9]+')
		cases=$((cases + ${c:-0}))
	done
	if [ "$bad" = 0 ]; then
		pass "$label: $cases cases in $n processes"
	else
		fail "$label" "$(cat "$TMP"/diag.*.log | grep -v '^ok - ' | head -n 40)"
	fi
}

# ---- 2. valgrind
if [ -n "${FUZZ_SKIP_VALGRIND:-}" ]; then
	echo "note: FUZZ_SKIP_VALGRIND is set: valgrind runs skipped"
elif ! command -v valgrind >/dev/null; then
	fail "valgrind: not installed (make deps)"
elif [ ! -x "$CLUSTERC_BIN" ]; then
	fail "valgrind: no clusterc binary at $CLUSTERC_BIN (run make)"
else
	run_corpus "valgrind" "$CLUSTERC_BIN" "$(command -v valgrind)" -q --leak-check=full \
		--show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99
	run_diagnostics "valgrind: diagnostics cases" VALGRIND=1 CLUSTERC_BIN="$CLUSTERC_BIN"
fi

# ---- 3. ASan + UBSan
if [ -n "${FUZZ_SKIP_SAN:-}" ]; then
	echo "note: FUZZ_SKIP_SAN is set: the sanitizer build is skipped"
elif make --no-print-directory SANITIZE=address,undefined build/san/clusterc >"$TMP/san-build.log" 2>&1; then
	SAN_BIN=$TOP/build/san/clusterc
	run_corpus "asan+ubsan" "$SAN_BIN"
	run_diagnostics "asan+ubsan: diagnostics cases" CLUSTERC_BIN="$SAN_BIN" \
		ASAN_OPTIONS=exitcode=86:detect_leaks=1 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1
else
	fail "asan+ubsan: make SANITIZE=address,undefined failed" "$(tail -n 30 "$TMP/san-build.log")"
fi
finish
