#!/bin/bash
# Benchmark step 3 of 5: a package, installed only when missing (apt-get and
# dpkg are the lab's shims).
set -euo pipefail
test -f /etc/bench/app.conf
if ! dpkg -s bench-tool >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q bench-tool >/dev/null
	echo "installed bench-tool"
fi
