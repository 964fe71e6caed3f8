#!/usr/bin/env bash
# Rebuilds out/ from clusters/*.cluster in the fixed golden environment
# (`make examples`). Review the diff, then commit it with the change.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/golden/env.sh
trap 'rm -rf "$GOLDEN_HOME"' EXIT
for f in clusters/*.cluster; do
	golden_env ./clusterc build "$f" -o out
done
echo "out/ rebuilt; review with: git status out/ && git diff --stat out/"
