#!/usr/bin/env bash
# Runs every unit test program (build/tests/test_*, or $BUILD/tests/test_*
# for a sanitizer build) and reads its TAP output (tests/unit/unit.h): each
# "ok N - name" counts as one pass and each "not ok N - name" as one failure.
# A program also fails, as one more failure, when it exits non-zero with no
# failed point (a crash, a leak under valgrind), prints no "1..N" plan, or
# runs a number of points other than its plan. Ends with "N passed, N failed".
# VALGRIND=1 runs the programs under valgrind, where a leak or memory error
# fails the program.
source "$(dirname "$0")/../lib.sh"
cd "$TOP"
shopt -s nullglob
bins=("$BUILD"/tests/test_*)
if [ ${#bins[@]} -eq 0 ]; then
	fail "unit: no test programs in $BUILD/tests (run make first)"
fi

# Counts the points of one program's TAP stream ($1) as passes and failures
# (a failed point shows the "# " diagnostics printed since the point before)
# and sets $why when the program as a whole failed: no plan, or a plan that
# does not match the points it ran.
read_tap() {
	local tap=$1 name=$2 line plan="" points=0 notes=""
	why=""
	failed_points=0
	while IFS= read -r line; do
		case $line in
		"not ok "*)
			points=$((points + 1))
			failed_points=$((failed_points + 1))
			fail "$name: ${line#not ok }" "${notes%$'\n'}"
			notes=""
			;;
		"ok "*)
			points=$((points + 1))
			pass "$name: ${line#ok }"
			notes=""
			;;
		1..*) plan=${line#1..} ;;
		"# "*) notes+="$line"$'\n' ;; # a point's diagnostics come before it
		esac
	done <"$tap"
	if [ -z "$plan" ]; then
		why="printed no 1..N plan (crashed?) after $points points"
	elif [ "$plan" != "$points" ]; then
		why="planned $plan points, ran $points"
	fi
}

for bin in "${bins[@]}"; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	tap="$TMP/$name.tap"
	err="$TMP/$name.err"
	if [ "${VALGRIND:-}" = 1 ]; then
		# The 10,000-node scale cases take minutes under valgrind; a
		# smaller cluster exercises the same code.
		UNIT_SCALE_NODES=300 valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
			--error-exitcode=99 "$bin" >"$tap" 2>"$err"
	else
		"$bin" >"$tap" 2>"$err"
	fi
	rc=$?
	read_tap "$tap" "$name"
	if [ -z "$why" ] && [ "$rc" -ne 0 ] && [ "$failed_points" -eq 0 ]; then
		why="exit $rc with every point ok"
	fi
	if [ -n "$why" ]; then
		fail "$name: $why" "$(tail -n 20 "$tap"; tail -n 20 "$err")"
	fi
done
finish
