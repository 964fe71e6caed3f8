#!/usr/bin/env bash
# Installs every build and test dependency: Debian packages, then the npm
# validators under tests/node_modules. Quick and quiet when all are present.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(make gcc clang libclang-rt-14-dev flex bison libyaml-dev libjansson-dev
	libcurl4-openssl-dev shellcheck openssh-server openssh-client iproute2 valgrind
	ansible-core pssh xorriso p7zip-full python3 curl ca-certificates
	hyperfine time procps bsdutils jq graphviz groff-base man-db perl zsh mandoc
	prometheus prometheus-alertmanager cloud-init netplan.io sudo python3-yaml)
# Node.js may come from another repository with npm bundled: ask for the
# Debian packages only when the commands are missing.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v kubectl >/dev/null 2>&1; then
	echo "deps: kubectl is not on this machine; the kustomize tests will say so and fail" >&2
fi
if [ -f tests/package.json ]; then
	if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules ]; then
		echo "deps: installing npm validators"
		(cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	fi
fi
