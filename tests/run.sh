#!/usr/bin/env bash
# Runs every test area (tests/<area>/run.sh), or those named, and prints one
# closing line for the whole run: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
# The order runs fast, self-contained areas first and the lab last.
ORDER=(unit diagnostics docs examples cli golden upstream consumers templates nodes addons schema runner api fuzz lab e2e)
if [ $# -gt 0 ]; then ORDER=("$@"); fi
total_pass=0 total_fail=0 failed_areas=() timings=()
for area in "${ORDER[@]}"; do
	driver=tests/$area/run.sh
	[ -f "$driver" ] || continue
	echo "== $area"
	log=$(mktemp)
	started=$SECONDS
	bash "$driver" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	timings+=("$area $((SECONDS - started))s")
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "FAIL - area $area printed no summary (exit $rc)"
		total_fail=$((total_fail + 1)); failed_areas+=("$area"); continue
	fi
	p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then total_fail=$((total_fail + 1)); fi
	if [ "$rc" -ne 0 ]; then failed_areas+=("$area"); fi
done
echo "time per area: ${timings[*]}"
[ ${#failed_areas[@]} -eq 0 ] || echo "failed areas: ${failed_areas[*]}"
echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
