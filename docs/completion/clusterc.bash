# bash completion for clusterc(1): commands, their options, and .cluster files.
# Installed as share/bash-completion/completions/clusterc.

_clusterc_options() {
	case $1 in
	check) echo "--werror --stdlib --max-errors --help" ;;
	build) echo "-o --out --werror --stdlib --help" ;;
	plan) echo "--only --limit --force --inventory --known-hosts --connect-timeout --retries --help" ;;
	apply) echo "-j --jobs --only --limit --force --destroy --inventory --known-hosts --env --dry-run -y --yes --artifacts --keep-runs --grace --connect-timeout --retries --reboot-timeout --lock-stale --break-lock -q --quiet --help" ;;
	drift) echo "-j --jobs --only --limit --inventory --known-hosts --env --artifacts --keep-runs --grace --connect-timeout --retries -q --quiet --help" ;;
	reset) echo "--all -y --yes --inventory --known-hosts --env --artifacts --keep-runs --grace --connect-timeout --retries --lock-stale --break-lock -q --quiet --help" ;;
	explain) echo "--list --help" ;;
	disconnect) echo "-q --quiet --help" ;;
	fmt) echo "-w --check --help" ;;
	graph) echo "--format --help" ;;
	import-env) echo "--help" ;;
	status) echo "--inventory --known-hosts --connect-timeout --help" ;;
	esac
}

_clusterc() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands="check build plan apply status disconnect drift reset explain fmt graph import-env version help"
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		mapfile -t COMPREPLY < <(compgen -W "$commands --help --version" -- "$cur")
		return
	fi
	local cmd=${COMP_WORDS[1]}
	case $prev in
	-o | --out | --stdlib | --artifacts)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return ;;
	--inventory | --known-hosts | --env)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--format)
		mapfile -t COMPREPLY < <(compgen -W "dot svg png" -- "$cur")
		return ;;
	-j | --jobs | --max-errors | --keep-runs | --grace | --connect-timeout | --retries | --reboot-timeout | --lock-stale | --only | --limit)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_clusterc_options "$cmd")" -- "$cur")
		return
	fi
	case $cmd in
	explain)
		mapfile -t COMPREPLY < <(compgen -W "$(clusterc explain --list 2>/dev/null | cut -d' ' -f1)" -- "$cur") ;;
	import-env)
		mapfile -t COMPREPLY < <(compgen -f -X '!*.env' -- "$cur"; compgen -d -- "$cur") ;;
	reset)
		# The built cluster or file, then node names from its plan.json.
		if [ "$COMP_CWORD" -gt 2 ] && [ -f "${COMP_WORDS[2]}/plan.json" ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(sed -n 's/^    "\([a-z0-9-]*\)": {$/\1/p' "${COMP_WORDS[2]}/plan.json")" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -f -X '!*.cluster' -- "$cur"; compgen -d -- "$cur")
		fi ;;
	plan | apply | status | graph | disconnect | drift)
		# A built cluster folder or a .cluster file.
		mapfile -t COMPREPLY < <(compgen -f -X '!*.cluster' -- "$cur"; compgen -d -- "$cur") ;;
	*)
		mapfile -t COMPREPLY < <(compgen -f -X '!*.cluster' -- "$cur"; compgen -d -- "$cur") ;;
	esac
}
complete -o filenames -F _clusterc clusterc
