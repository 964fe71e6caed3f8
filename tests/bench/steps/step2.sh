#!/bin/bash
# Benchmark step 2 of 5: a configuration file, rewritten only when it differs.
set -euo pipefail
test -d /etc/bench
want='# bench app configuration
listen = 0.0.0.0:8080
workers = 4
'
if [ "$(cat /etc/bench/app.conf 2>/dev/null || true)" != "${want%$'\n'}" ]; then
	printf '%s' "$want" >/etc/bench/app.conf.new
	mv /etc/bench/app.conf.new /etc/bench/app.conf
	echo "wrote /etc/bench/app.conf"
fi
