#!/bin/bash
# Benchmark step 1 of 5: directories (idempotent: checks before it acts).
set -euo pipefail
for d in /etc/bench /var/lib/bench; do
	if [ ! -d "$d" ]; then
		mkdir -p "$d"
		echo "created $d"
	fi
done
