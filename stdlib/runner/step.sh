# shellcheck shell=bash
# step.sh DIR SCRIPT HASH NAME TIMEOUT GRACE OUTPUTS [MODE]: runs one step on its host
# (compiler/run/step_run.c). MODE "check" (clusterc drift) runs the script with
# CLUSTERC_CHECK_ONLY=1 in DIR, a check-only run's own folder, and records and
# removes nothing in state/; "once" (clusterc reset) records nothing either;
# "run", the default, is an apply. The script gets stdin (its values), runs in the
# bundle, and has a deadline enforced on the host (TERM after TIMEOUT seconds,
# KILL after GRACE more). The hash is recorded in DIR/state/NAME only when the
# script exits 0 and printed no output line for a name outside OUTPUTS (the
# comma-separated outputs plan.json names it the producer of: the runner
# refuses such a step, so it must not be done here either), by rename, so a
# record is never half written. The old record
# goes first: a step that started and did not finish (a forced re-run that
# fails) is not done afterwards, whatever ran before.
# DIR/run/NAME.pid holds the pid of the timeout wrapper while it runs
# (cancel.sh reads it; prep.sh tells from it that a step still runs here).
# The script writes to DIR/run/NAME.out, which is passed on until the script
# ends, not until every process it left behind closes it: a background
# process holding the output must not hold the step open.
# Exits with the script's status, or one of enum remote_exit
# (compiler/run/remote.h):
#   97  REMOTE_EXIT_NO_BUNDLE     DIR/bundle is missing: nothing ran
#   96  REMOTE_EXIT_NOT_RECORDED  the script succeeded, its hash was not recorded
#   95  REMOTE_EXIT_FORGED        the script printed an output it does not
#                                 declare: not recorded
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

D=$1 S=$2 H=$3 N=$4 T=$5 G=$6 O=$7 M=${8:-run}
cd "$D/bundle" || { echo "clusterc: no bundle in $D" >&2; exit 97; }
if [ "$M" = check ]; then
  export CLUSTERC_CHECK_ONLY=1
  mkdir -p "$D/run" || exit 1
else
  rm -f "$D/state/$N"
fi
o=$D/run/$N.out
(umask 077 && : > "$o") || exit 1
exec 3<&0
timeout -k "$G" "$T" bash "$S" <&3 3<&- >"$o" 2>&1 &
p=$!
exec 3<&-
printf '%s\n' "$p" > "$D/run/$N.pid"
tail -n +1 -s 0.2 --pid="$p" -f "$o" &
t=$!
wait "$p"; rc=$?
wait "$t"
# The runner's reading of a protocol line (step_stdout_lines): the name runs
# from after "::clusterc::output " to the next space.
if [ "$rc" -eq 0 ] && ! LC_ALL=C awk -v outs=",$O," '
  index($0, "::clusterc::output ") == 1 {
    r = substr($0, 20); i = index(r, " ")
    if (i && (i == 1 || !index(outs, "," substr(r, 1, i - 1) ","))) bad = 1
  }
  END { exit bad }' "$o"; then
  rc=95
fi
rm -f "$D/run/$N.pid" "$o"
if [ "$rc" -eq 0 ] && [ "$M" = run ]; then
  printf '%s\n' "$H" > "$D/state/$N.tmp" && mv -f "$D/state/$N.tmp" "$D/state/$N" || rc=96
fi
exit "$rc"
