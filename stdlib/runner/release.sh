# shellcheck shell=bash
# release.sh DIR OWNER: removes DIR/lock when OWNER ("machine pid user
# run-id") holds it, and leaves another apply's lock alone
# (compiler/run/host_state.c).
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

c=$(cat "$1/lock/owner" 2>/dev/null)
case $c in "$2 "*) rm -rf "$1/lock";; esac
