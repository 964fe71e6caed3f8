#!/bin/sh
# matrix-bootstrap: the alert bot, its room and the matrix-bot Secret.
# Environment: MATRIX_URL, MATRIX_SERVER_NAME, MATRIX_ROOM, BRIDGE_WEBHOOK_URL,
# REGISTRATION_SHARED_SECRET. Talks to the Kubernetes API with the pod's
# ServiceAccount (RBAC in rbac.yaml). KUBE_API and SA_DIR exist for tests.
#
# Runs in the Synapse image itself (matrixdotorg/synapse, docker/Dockerfile at the
# pinned tag: python:3.11-slim-bookworm with curl and openssl installed), so nothing
# is installed at run time; JSON is read and written with python3's json module.
set -eu

# jget KEY...: the value at that key path of the JSON on stdin ("" when absent).
jget() {
	python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$@"
}

SA=${SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
NS=$(cat "$SA/namespace")
API=${KUBE_API:-https://kubernetes.default.svc}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

# kube METHOD PATH [BODY [CONTENT-TYPE]]: prints the HTTP status; the body is in $OUT.
kube() {
	if [ $# -ge 3 ]; then
		curl -sS -o "$OUT" -w '%{http_code}' --cacert "$SA/ca.crt" \
			-H "Authorization: Bearer $(cat "$SA/token")" \
			-H "Content-Type: ${4:-application/json}" -X "$1" --data-binary "$3" "$API$2"
	else
		curl -sS -o "$OUT" -w '%{http_code}' --cacert "$SA/ca.crt" \
			-H "Authorization: Bearer $(cat "$SA/token")" -X "$1" "$API$2"
	fi
}
# matrix METHOD PATH [BODY]: a client-server API call as the bot; prints the body.
matrix() {
	if [ $# -ge 3 ]; then
		curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
			-X "$1" --data-binary "$3" "$MATRIX_URL$2"
	else
		curl -fsS -H "Authorization: Bearer $token" -X "$1" "$MATRIX_URL$2"
	fi
}

echo "waiting for Synapse at $MATRIX_URL"
i=0
until curl -fsS -o /dev/null "$MATRIX_URL/_matrix/client/versions"; do
	i=$((i + 1))
	if [ "$i" -ge 120 ]; then
		echo "Synapse did not answer" >&2
		exit 1
	fi
	sleep 5
done

# A valid Secret means the bot exists and works: nothing to do.
code=$(kube GET "/api/v1/namespaces/$NS/secrets/matrix-bot")
if [ "$code" = 200 ]; then
	token=$(jget data access-token <"$OUT" | base64 -d)
	if [ -n "$token" ] && matrix GET /_matrix/client/v3/account/whoami >/dev/null 2>&1; then
		echo "Secret matrix-bot exists and its token is valid"
		exit 0
	fi
	echo "Secret matrix-bot is not valid any more: registering a new bot"
	secret_exists=1
elif [ "$code" = 404 ]; then
	secret_exists=0
else
	echo "reading Secret matrix-bot failed with HTTP $code" >&2
	exit 1
fi

# Shared-secret registration: HMAC-SHA1 over nonce, user, password and
# "notadmin", NUL-separated, keyed with registration_shared_secret.
user="alertbot-$(date +%s)-$(openssl rand -hex 3)"
password=$(openssl rand -hex 24)
nonce=$(curl -fsS "$MATRIX_URL/_synapse/admin/v1/register" | jget nonce)
mac=$(printf '%s\000%s\000%s\000notadmin' "$nonce" "$user" "$password" |
	openssl dgst -sha1 -hmac "$REGISTRATION_SHARED_SECRET" | sed 's/^.*= //')
registered=$(nonce=$nonce username=$user password=$password mac=$mac python3 -c 'import json, os
b = {k: os.environ[k] for k in ("nonce", "username", "password", "mac")}
b["admin"] = False
print(json.dumps(b))' |
	curl -fsS -H 'Content-Type: application/json' --data-binary @- "$MATRIX_URL/_synapse/admin/v1/register")
token=$(printf '%s' "$registered" | jget access_token)
user_id=$(printf '%s' "$registered" | jget user_id)
echo "registered $user_id"

# The room: join it when its alias exists (a bot registered earlier made it),
# else create it.
alias_local=$(printf '%s' "$MATRIX_ROOM" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_.=-' '-')
alias_enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "#$alias_local:$MATRIX_SERVER_NAME")
if room=$(matrix GET "/_matrix/client/v3/directory/room/$alias_enc" 2>/dev/null); then
	room_id=$(printf '%s' "$room" | jget room_id)
	matrix POST "/_matrix/client/v3/join/$alias_enc" '{}' >/dev/null
	echo "joined $room_id"
else
	room_id=$(name=$MATRIX_ROOM alias=$alias_local python3 -c 'import json, os
print(json.dumps({"name": os.environ["name"], "room_alias_name": os.environ["alias"],
    "preset": "public_chat", "visibility": "public",
    "initial_state": [{"type": "m.room.history_visibility", "state_key": "",
        "content": {"history_visibility": "world_readable"}}]}))' |
		{ body=$(cat); matrix POST /_matrix/client/v3/createRoom "$body"; } | jget room_id)
	echo "created room $room_id"
fi

# The Secret the bridge reads.
secret=$(ns=$NS user_id=$user_id token=$token room_id=$room_id webhook=$BRIDGE_WEBHOOK_URL python3 -c 'import json, os
e = os.environ
print(json.dumps({"apiVersion": "v1", "kind": "Secret",
    "metadata": {"name": "matrix-bot", "namespace": e["ns"], "labels": {"app.kubernetes.io/managed-by": "matrix-bootstrap"}},
    "type": "Opaque",
    "stringData": {"user-id": e["user_id"], "access-token": e["token"], "room-id": e["room_id"], "webhook-url": e["webhook"]}}))')
if [ "$secret_exists" = 1 ]; then
	code=$(kube PUT "/api/v1/namespaces/$NS/secrets/matrix-bot" "$secret")
else
	code=$(kube POST "/api/v1/namespaces/$NS/secrets" "$secret")
fi
case $code in
2??) echo "wrote Secret matrix-bot" ;;
*)
	echo "writing Secret matrix-bot failed with HTTP $code" >&2
	exit 1
	;;
esac

# A running bridge read the old credentials when it started: delete its pods
# so that they start again with these (its Deployment recreates them).
code=$(kube DELETE "/api/v1/namespaces/$NS/pods?labelSelector=app%3Dalertmanager-matrix")
echo "restarted the bridge's pods: HTTP $code"
