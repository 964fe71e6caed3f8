# tests/golden/env.sh: the fixed environment the examples are built in, so out/
# depends only on the repository (the process environment wins over .env
# files, and HOME decides where ~/.ssh keys are read). Sourced.
golden_env() {
	env -i PATH="$PATH" HOME="$GOLDEN_HOME" LANG=C.UTF-8 NO_COLOR=1 "$@"
}
GOLDEN_HOME=${GOLDEN_HOME:-$(mktemp -d "${TMPDIR:-/tmp}/clusterc-home.XXXXXX")}
mkdir -p "$GOLDEN_HOME/.ssh"
