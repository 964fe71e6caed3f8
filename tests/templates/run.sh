#!/usr/bin/env bash
# Renders the fixture templates in tests/templates/stdlib/ against
# tests/templates/model.json with build/tools/render and compares stdout
# (or, for a failing case, stderr) with tests/templates/expected/.
source "$(dirname "$0")/../lib.sh"
cd "$TOP/tests/templates"
RENDER=$BUILD/tools/render
[ -x "$RENDER" ] || { fail "templates: $RENDER missing (run make)"; finish; exit 1; }
# case name, expected exit status, extra arguments
cases=(
	"escape.sh 0"
	"words.yaml 0"
	"node.yaml 0 --set node=@nodes.1"
	"undefined.sh 1"
	"secret.yaml 1"
	"unclosed.sh 1"
)
for c in "${cases[@]}"; do
	read -r name want extra <<<"$c"
	# shellcheck disable=SC2086 # extra is a list of words
	NO_COLOR=1 "$RENDER" --stdlib stdlib --context model.json "templates/$name" $extra \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "render $name exits $want" "exit $rc: $(cat "$TMP/$name.err")"
		continue
	fi
	if [ "$want" -eq 0 ]; then
		golden "render $name" "$TMP/$name.out" "expected/$name.out"
	else
		golden "render $name (error)" "$TMP/$name.err" "expected/$name.err"
	fi
done
# Every rendered YAML fixture parses (where PyYAML is installed).
python3 -c 'import yaml' 2>/dev/null || echo "# skipping YAML parse checks: no python3 yaml module"
for y in "$TMP"/*.yaml.out; do
	python3 -c 'import yaml' 2>/dev/null || break
	[ -s "$y" ] || continue
	check "yaml parses: $(basename "$y" .out)" python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$y"
done
# Rendered scripts are valid bash.
check "bash -n escape.sh" bash -n "$TMP/escape.sh.out"
finish
