#!/usr/bin/env bash
# tests/cli/run.sh: the operator's commands beside build and apply:
# fmt (fmt.sh), graph (graph.sh) and import-env (import_env.sh). Arguments
# name the parts to run (`bash tests/cli/run.sh graph`).
source "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

if [ ! -x "$CLUSTERC_BIN" ]; then
	fail "cli: no clusterc binary at $CLUSTERC_BIN (run make)"
	finish
	exit 1
fi

# The fixed environment the examples area uses: the variables the example
# clusters read, and a fake ~/.ssh/id_ed25519.pub.
FAKE_HOME=$TMP/home
mkdir -p "$FAKE_HOME/.ssh"
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiagnosticsDiagnosticsDiagnosticsDiagnostic test@clusterc" \
	>"$FAKE_HOME/.ssh/id_ed25519.pub"
CLI_ENV=(PATH=/usr/local/bin:/usr/bin:/bin HOME="$FAKE_HOME" NO_COLOR=1 LC_ALL=C TERM=dumb)

parts=(fmt graph import_env)
[ $# -gt 0 ] && parts=("$@")
for part in "${parts[@]}"; do
	[ -f "$TOP/tests/cli/$part.sh" ] && source "$TOP/tests/cli/$part.sh"
done
finish
