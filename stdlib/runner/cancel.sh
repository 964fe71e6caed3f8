# shellcheck shell=bash
# cancel.sh DIR NAME: asks a running step to stop (TERM to its timeout
# wrapper, which KILLs after the grace); killing the local ssh client alone
# would leave it running (compiler/run/execute.c, on a deadline). Exits 0.
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

p=$(cat "$1/run/$2.pid" 2>/dev/null) && [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
exit 0
