#!/bin/bash
# Benchmark step 4 of 5: a sysctl drop-in, applied only when it changed.
set -euo pipefail
dpkg -s bench-tool >/dev/null 2>&1
want='net.ipv4.ip_forward = 1'
if [ "$(cat /etc/sysctl.d/90-bench.conf 2>/dev/null || true)" != "$want" ]; then
	mkdir -p /etc/sysctl.d
	printf '%s\n' "$want" >/etc/sysctl.d/90-bench.conf
	sysctl -q --system
	echo "applied /etc/sysctl.d/90-bench.conf"
fi
