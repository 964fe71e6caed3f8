# shellcheck shell=bash
# release.sh DIR OWNER [WORK]: removes DIR/lock when OWNER ("machine pid user
# run-id") holds it, and leaves another apply's lock alone
# (compiler/run/host_state.c). WORK, a check-only run's own folder under
# DIR/check/ (compiler/run/drift.c), is removed.
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

c=$(cat "$1/lock/owner" 2>/dev/null)
case $c in "$2 "*) rm -rf "$1/lock";; esac
case ${3:-} in "$1"/check/?*) rm -rf "$3"; rmdir "$1/check" 2>/dev/null;; esac
exit 0
