# shellcheck shell=bash
# prep.sh DIR MODE OWNER TAKE: reads a host's records and, with MODE "lock",
# takes its lock in the same round trip (compiler/run/host_state.c).
#   DIR    /var/lib/clusterc/<cluster>
#   MODE   lock | read (a read takes no lock and writes nothing)
#   OWNER  "machine pid user run-id", the lock's owner record without its time
#   TAKE   "=<owner record>": take over this stale lock (empty: never)
# Answers on stdout, one line each: LOCK ok | LOCK held <owner> |
# LOCKINFO <owner> (read mode, someone holds it) | ERR <why> |
# STATE <step> <hash> per record | NOW <epoch> | END (the answer is complete).
# Always exits 0: the answer is in the lines.
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

D=$1 M=$2 I=$3 K=$4
if [ "$M" = lock ]; then
  mkdir -p "$D/state" "$D/run" || { echo "ERR cannot create $D"; echo END; exit 0; }
  if mkdir "$D/lock" 2>/dev/null; then
    printf '%s %(%s)T\n' "$I" -1 > "$D/lock/owner"; echo 'LOCK ok'
  else
    c=$(cat "$D/lock/owner" 2>/dev/null)
    if [ -n "$K" ] && [ "=$c" = "$K" ]; then
      printf '%s %(%s)T\n' "$I" -1 > "$D/lock/owner"; echo 'LOCK ok'
    else echo "LOCK held $c"; fi
  fi
elif [ -d "$D/lock" ]; then echo "LOCKINFO $(cat "$D/lock/owner" 2>/dev/null)"
fi
for f in "$D"/state/*; do
  [ -f "$f" ] || continue
  case $f in *.tmp) continue;; esac
  h=; IFS= read -r h < "$f"; printf 'STATE %s %s\n' "${f##*/}" "$h"
done
printf 'NOW %(%s)T\n' -1
echo END
