#!/bin/sh
# init-secrets.sh (monitoring-init-secrets Job): creates each Secret named in
# $SECRETS that does not exist yet, with random values, through the in-cluster
# kubectl of the Job's ServiceAccount. Values go through files in a private
# temporary directory, never through argv.
set -eu
umask 077
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
for name in $SECRETS; do
	if kubectl get secret "$name" >/dev/null 2>&1; then
		echo "Secret $name exists"
		continue
	fi
	rm -rf "${dir:?}"/*
	case $name in
	grafana-admin)
		printf admin >"$dir/admin-user"
		random >"$dir/admin-password"
		;;
	matrix-db)
		random >"$dir/postgres-password"
		random >"$dir/registration-shared-secret"
		;;
	*)
		echo "unknown Secret $name" >&2
		exit 1
		;;
	esac
	set --
	for f in "$dir"/*; do set -- "$@" --from-file="$f"; done
	kubectl create secret generic "$name" "$@"
	echo "created Secret $name"
done
