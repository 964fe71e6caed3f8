# shellcheck shell=bash
# reboot.sh: reboots the host two seconds from now, detached, so the ssh
# session that asked ends cleanly first (compiler/run/step_run.c, after a
# step printed ::clusterc::reboot).
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

setsid -f sh -c 'sleep 2; systemctl reboot' </dev/null >/dev/null 2>&1
