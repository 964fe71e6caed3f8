#!/usr/bin/env bash
# Runs every unit test program (build/tests/test_*, or $BUILD/tests/test_*
# for a sanitizer build) and prints the closing "N passed, N failed" line.
# Each program is one test: it passes when it exits 0. VALGRIND=1 runs them
# under valgrind, where a leak or memory error fails the program.
source "$(dirname "$0")/../lib.sh"
cd "$TOP"
shopt -s nullglob
bins=("$BUILD"/tests/test_*)
if [ ${#bins[@]} -eq 0 ]; then
	fail "unit: no test programs in $BUILD/tests (run make first)"
fi
for bin in "${bins[@]}"; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	log="$TMP/$name.log"
	if [ "${VALGRIND:-}" = 1 ]; then
		# The 10,000-node scale cases take minutes under valgrind; a
		# smaller cluster exercises the same code.
		UNIT_SCALE_NODES=300 valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
			--error-exitcode=99 "$bin" >"$log" 2>&1
	else
		"$bin" >"$log" 2>&1
	fi
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name"
	else
		fail "$name (exit $rc)" "$(tail -n 40 "$log")"
	fi
done
finish
