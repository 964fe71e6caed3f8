# tests/cli/graph.sh: clusterc graph (sourced by run.sh).
# On every built example in out/: the DOT text is deterministic (twice the
# same, and the same from the .cluster FILE as from OUTDIR/<cluster>), has
# one node per step, one edge per dependency and one cluster per phase of
# plan.json, and Graphviz's dot reads it; svg and png come out through dot;
# without dot, a clear error.
for dir in "$TOP"/out/*/; do
	dir=${dir%/}
	n=$(basename "$dir")
	plan=$dir/plan.json
	if ! clusterc graph "$dir" >"$TMP/g1.dot" 2>"$TMP/g.err"; then
		fail "graph $n" "$(cat "$TMP/g.err")"
		continue
	fi
	clusterc graph "$dir" >"$TMP/g2.dot" 2>&1
	if cmp -s "$TMP/g1.dot" "$TMP/g2.dot"; then
		pass "graph $n: deterministic"
	else
		fail "graph $n: two runs differ" "$(diff "$TMP/g1.dot" "$TMP/g2.dot" | head)"
	fi
	steps=$(jq '.steps | length' "$plan")
	edges=$(jq '[.steps[].after | length] | add' "$plan")
	phases=$(jq '.phases | length' "$plan")
	got_steps=$(grep -c '^    "[^"]*@[^"]*" \[label=' "$TMP/g1.dot")
	got_edges=$(grep -c '^  "[^"]*" -> "[^"]*";$' "$TMP/g1.dot")
	got_phases=$(grep -c '^  subgraph "cluster_[0-9]' "$TMP/g1.dot")
	if [ "$got_steps $got_edges $got_phases" = "$steps $edges $phases" ]; then
		pass "graph $n: $steps steps, $edges dependencies, $phases phases"
	else
		fail "graph $n: counts" "want steps/edges/phases $steps $edges $phases, got $got_steps $got_edges $got_phases"
	fi
	if command -v dot >/dev/null; then
		if dot -Tsvg "$TMP/g1.dot" -o "$TMP/g.svg" 2>"$TMP/dot.err" && [ ! -s "$TMP/dot.err" ]; then
			pass "graph $n: dot -Tsvg reads it without a warning"
		else
			fail "graph $n: dot -Tsvg" "$(cat "$TMP/dot.err")"
		fi
	fi
done

# From a .cluster FILE: built into a temporary folder, the same picture.
(cd "$TOP/clusters" && env -i "${CLI_ENV[@]}" "$CLUSTERC_BIN" graph homelab.cluster) >"$TMP/f.dot" 2>"$TMP/f.err"
if cmp -s "$TMP/f.dot" <(clusterc graph "$TOP/out/homelab"); then
	pass "graph FILE: same DOT as graph OUTDIR/<cluster>"
else
	fail "graph FILE" "$(cat "$TMP/f.err"; diff "$TMP/f.dot" <(clusterc graph "$TOP/out/homelab") | head)"
fi

if command -v dot >/dev/null; then
	clusterc graph "$TOP/out/homelab" --format svg -o "$TMP/h.svg" &&
		grep -q '<svg' "$TMP/h.svg" && pass "graph --format svg -o FILE" || fail "graph --format svg"
	clusterc graph "$TOP/out/homelab" --format png >"$TMP/h.png" &&
		[ "$(head -c 4 "$TMP/h.png" | tail -c 3)" = PNG ] && pass "graph --format png to stdout" ||
		fail "graph --format png"
else
	fail "graph: Graphviz's dot is not installed (make deps installs graphviz)"
fi

# Without dot on PATH: exit 2 and a message that says what to install.
env -i PATH=/nonexistent "$CLUSTERC_BIN" graph "$TOP/out/homelab" --format svg >/dev/null 2>"$TMP/nodot.err"
rc=$?
if [ "$rc" = 2 ] && grep -q "needs Graphviz's 'dot'" "$TMP/nodot.err" && grep -q 'graphviz' "$TMP/nodot.err"; then
	pass "graph --format svg without dot: a clear error"
else
	fail "graph without dot" "exit $rc: $(cat "$TMP/nodot.err")"
fi
clusterc graph "$TOP/out/homelab" --format gif >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] && pass "graph: an unknown format is a usage error" || fail "graph --format gif" "exit $rc"
