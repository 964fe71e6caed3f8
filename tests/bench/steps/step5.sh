#!/bin/bash
# Benchmark step 5 of 5: a service, enabled and started only when it is not
# running (systemctl is the lab's shim).
set -euo pipefail
test -f /etc/sysctl.d/90-bench.conf
if ! systemctl is-active --quiet bench; then
	systemctl enable --now bench 2>/dev/null
	echo "started bench"
fi
