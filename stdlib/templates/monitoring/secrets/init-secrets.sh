#!/bin/sh
# matrix-init-secret: creates Secret matrix-db (postgres-password,
# registration-shared-secret) unless it exists. Runs in the matrix namespace
# with the matrix ServiceAccount (in-cluster kubectl).
set -eu
if kubectl get secret matrix-db >/dev/null 2>&1; then
	echo "Secret matrix-db exists"
	exit 0
fi
umask 077
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for key in postgres-password registration-shared-secret; do
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/$key"
done
kubectl create secret generic matrix-db \
	--from-file="$dir/postgres-password" --from-file="$dir/registration-shared-secret"
echo "created Secret matrix-db"
