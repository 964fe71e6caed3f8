#!/bin/sh
# init-secrets.sh (monitoring-init-secrets Job): creates each Secret named in
# $SECRETS that does not exist yet, with random values, through the Kubernetes
# API with the pod's ServiceAccount token (RBAC in rbac.yaml), as
# matrix/bootstrap.sh does: curl and a POSIX shell are all it needs, so the Job
# runs in the curl project's image (no kubectl image: bitnami/kubectl's
# versioned tags are gone, registry.k8s.io/kubectl has no shell). Values are
# written to files in a private temporary directory and sent with
# --data-binary @FILE, never through argv. KUBE_API and SA_DIR exist for tests.
set -eu
umask 077
SA=${SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
NS=$(cat "$SA/namespace")
API=${KUBE_API:-https://kubernetes.default.svc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# kube METHOD PATH [BODY-FILE]: prints the HTTP status; the answer is in $dir/answer.
kube() {
	if [ $# -ge 3 ]; then
		curl -sS -o "$dir/answer" -w '%{http_code}' --cacert "$SA/ca.crt" \
			-H "Authorization: Bearer $(cat "$SA/token")" -H 'Content-Type: application/json' \
			-X "$1" --data-binary "@$3" "$API$2"
	else
		curl -sS -o "$dir/answer" -w '%{http_code}' --cacert "$SA/ca.crt" \
			-H "Authorization: Bearer $(cat "$SA/token")" -X "$1" "$API$2"
	fi
}
for name in $SECRETS; do
	code=$(kube GET "/api/v1/namespaces/$NS/secrets/$name")
	case $code in
	200)
		echo "Secret $name exists"
		continue
		;;
	404) ;;
	*)
		echo "reading Secret $name failed with HTTP $code" >&2
		exit 1
		;;
	esac
	# Every value is 64 hex digits and every key a fixed word: nothing to escape.
	case $name in
	grafana-admin)
		data=$(printf '"admin-user": "admin", "admin-password": "%s"' "$(random)")
		;;
	matrix-db)
		data=$(printf '"postgres-password": "%s", "registration-shared-secret": "%s"' "$(random)" "$(random)")
		;;
	*)
		echo "unknown Secret $name" >&2
		exit 1
		;;
	esac
	printf '{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "%s", "namespace": "%s"}, "stringData": {%s}}\n' \
		"$name" "$NS" "$data" >"$dir/body"
	unset data
	code=$(kube POST "/api/v1/namespaces/$NS/secrets" "$dir/body")
	rm -f "$dir/body"
	case $code in
	201) echo "created Secret $name" ;;
	409) echo "Secret $name exists (created meanwhile)" ;;
	*)
		echo "creating Secret $name failed with HTTP $code: $(cat "$dir/answer")" >&2
		exit 1
		;;
	esac
done
