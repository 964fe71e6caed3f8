# tests/lib.sh: shared by every test driver (sourced, not run).
# Gives a temp dir removed on exit, pass/fail counting, and CLUSTERC (with
# valgrind when VALGRIND=1). A driver ends with `finish`, which prints the
# closing "N passed, N failed" line and exits 1 on any failure.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$TOP/../shared}
CLUSTERC_BIN=${CLUSTERC_BIN:-$TOP/clusterc}
BUILD=${BUILD:-$TOP/build}
T_PASSED=0
T_FAILED=0
T_FAILED_NAMES=()

TMP=$(mktemp -d "${TMPDIR:-/tmp}/clusterc-test.XXXXXX")
# Caches a test program keeps (validate.js's parsed CRDs) live and die with the run.
export CLUSTERC_TEST_TMP=$TMP
t_cleanup_hooks=()
t_cleanup() {
	local h
	for h in "${t_cleanup_hooks[@]}"; do eval "$h" || true; done
	rm -rf "$TMP"
}
trap t_cleanup EXIT
# A test killed by a signal still tears its labs and servers down: bash runs
# the EXIT trap on exit, not when a signal ends it.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# Adds a command to run at exit (after a failure too).
at_exit() { t_cleanup_hooks+=("$1"); }

# clusterc runs under valgrind when VALGRIND=1; a leak or error fails the command.
clusterc() {
	if [ "${VALGRIND:-}" = 1 ]; then
		valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
			--error-exitcode=99 "$CLUSTERC_BIN" "$@"
	else
		"$CLUSTERC_BIN" "$@"
	fi
}

pass() { T_PASSED=$((T_PASSED + 1)); [ -n "${QUIET:-}" ] || echo "ok - $1"; }
fail() {
	T_FAILED=$((T_FAILED + 1))
	T_FAILED_NAMES+=("$1")
	echo "FAIL - $1"
	if [ $# -gt 1 ]; then printf '%s\n' "$2" | head -n 40 | sed 's/^/    /'; fi
}
# check NAME CMD...: passes when CMD exits 0.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}
# Compares a file with its golden copy; UPDATE_GOLDEN=1 rewrites the golden.
golden() {
	local name=$1 actual=$2 expected=$3
	if [ "${UPDATE_GOLDEN:-}" = 1 ]; then
		mkdir -p "$(dirname "$expected")"
		cp "$actual" "$expected"
		pass "$name (updated)"
	elif [ ! -f "$expected" ]; then
		fail "$name" "no golden file $expected (run make update-golden and review)"
	elif diff -u "$expected" "$actual" >"$TMP/golden.diff" 2>&1; then
		pass "$name"
	else
		fail "$name" "$(cat "$TMP/golden.diff")"
	fi
}
finish() {
	echo "${T_PASSED} passed, ${T_FAILED} failed"
	[ "$T_FAILED" -eq 0 ]
}

# fixed_env: sets FIXED_ENV, the environment the diagnostics and cli areas run
# clusterc in: a fixed PATH and locale, no colour, and a HOME under $TMP whose
# ~/.ssh/id_ed25519.pub is a fake key (the examples read it).
fixed_env() {
	FAKE_HOME=$TMP/home
	mkdir -p "$FAKE_HOME/.ssh"
	echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiagnosticsDiagnosticsDiagnosticsDiagnostic test@clusterc" \
		>"$FAKE_HOME/.ssh/id_ed25519.pub"
	FIXED_ENV=(PATH=/usr/local/bin:/usr/bin:/bin HOME="$FAKE_HOME" NO_COLOR=1 LC_ALL=C TERM=dumb)
}
