# shellcheck shell=bash
# prep.sh DIR MODE OWNER TAKE: reads a host's records and, with MODE "lock",
# takes its lock in the same round trip (compiler/run/host_state.c).
#   DIR    /var/lib/clusterc/<cluster>
#   MODE   lock | read (a read takes no lock and writes nothing)
#   OWNER  "machine pid user run-id token", the lock's owner without what the
#          host adds; the token is random per run and is the owner's identity
#   TAKE   "=<owner record>": take over this stale lock (empty: never)
# The owner record is OWNER, then what lets this host, not the operator's
# machine, tell whether its holder lives: the time, the boot id, and the
# holder's ssh connection here (the sshd process above this shell, as
# pid:start-time). Another apply's lock is dead when that connection is gone
# (or the host rebooted) and no step of it runs here; an empty owner older
# than a few seconds is dead (a disk that filled up while it was written).
# Answers on stdout, one line each: LOCK ok | LOCK held <owner> |
# LIVE <why> | DEAD <why> | UNSURE (the holder's state, after LOCK held) |
# LOCKINFO <owner> (read mode, someone holds it) | ERR <why> |
# STATE <step> <hash> per record | CONN <this shell's connection, as in the
# owner record> | NOW <epoch> | END (the answer is complete).
# Always exits 0: the answer is in the lines.
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

D=$1 M=$2 I=$3 K=$4
B=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) B=${B:--}
# the sshd process this shell runs under (its connection), as pid:start
# (/proc/PID/stat after the name: [1] the parent, [19] the start time)
conn() {
  local p=$$ c s a
  while [ "$p" -gt 1 ]; do
    IFS= read -r c < "/proc/$p/comm" || break
    read -r s < "/proc/$p/stat" || break
    read -ra a <<< "${s##*) }"
    case $c in sshd*) echo "$p:${a[19]}"; return;; esac
    p=${a[1]}
  done 2>/dev/null
  echo -
}
started() { # started PID:START: that process is still there
  local s a
  read -r s < "/proc/${1%%:*}/stat" 2>/dev/null || return 1
  read -ra a <<< "${s##*) }"
  [ "${1#*:}" = "${a[19]}" ]
}
# put: writes the owner record, checked (a full disk must not leave an empty one)
put() {
  printf '%s %(%s)T %s %s\n' "$I" -1 "$B" "$(conn)" > "$D/lock/owner.tmp" &&
    mv -f "$D/lock/owner.tmp" "$D/lock/owner"
}
# holder C: what this host knows of the holder of owner record C
holder() {
  local f p
  for f in "$D"/run/*.pid; do
    [ -f "$f" ] || continue
    p=; IFS= read -r p < "$f"
    case $p in ''|*[!0-9]*) continue;; esac
    if kill -0 "$p" 2>/dev/null; then f=${f##*/}; echo "LIVE its step ${f%.pid} still runs here"; return; fi
  done
  if [ -z "$1" ]; then
    local a
    a=$(( $(printf '%(%s)T' -1) - $(stat -c %Y "$D/lock" 2>/dev/null || echo 0) ))
    if [ "$a" -gt 5 ]; then echo "DEAD its owner record is empty ($a s old)"; else echo 'LIVE it is being taken'; fi
    return
  fi
  local o
  read -ra o <<< "$1"
  case ${o[4]} in tok-*) ;; *) echo UNSURE; return;; esac
  if [ "${o[6]}" != "$B" ]; then echo 'DEAD this host rebooted since'; return; fi
  case ${o[7]} in
    *:*) if started "${o[7]}"; then echo 'LIVE its connection to this host is open'
         else echo 'DEAD its connection to this host is gone and no step of it runs'; fi;;
    *) echo UNSURE;;
  esac
}
if [ "$M" = lock ]; then
  mkdir -p "$D/state" "$D/run" || { echo "ERR cannot create $D"; echo END; exit 0; }
  if mkdir "$D/lock" 2>/dev/null; then
    if put; then echo 'LOCK ok'
    else rm -rf "$D/lock"; echo "ERR cannot write $D/lock/owner (is the disk full?)"; echo END; exit 0; fi
  else
    c=$(cat "$D/lock/owner" 2>/dev/null)
    case "=$c" in
    "=$I "*|"$K")
      # ours (we reconnected: its connection is the new one) or a takeover
      put || { echo "ERR cannot write $D/lock/owner (is the disk full?)"; echo END; exit 0; }
      echo 'LOCK ok';;
    *) echo "LOCK held $c"; holder "$c";;
    esac
  fi
elif [ -d "$D/lock" ]; then echo "LOCKINFO $(cat "$D/lock/owner" 2>/dev/null)"
fi
for f in "$D"/state/*; do
  [ -f "$f" ] || continue
  case $f in *.tmp) continue;; esac
  h=; IFS= read -r h < "$f"; printf 'STATE %s %s\n' "${f##*/}" "$h"
done
echo "CONN $(conn)"
printf 'NOW %(%s)T\n' -1
echo END
