#!/usr/bin/env python3
"""mock_matrix.py PORTFILE LOG SHARED_SECRET SERVER_NAME: a loopback stand-in for
the two APIs the matrix-bootstrap Job talks to, for tests/addons:

- Synapse: /_matrix/client/versions, the shared-secret registration API
  (/_synapse/admin/v1/register, nonce + HMAC-SHA1 over
  nonce NUL user NUL password NUL "notadmin", checked as Synapse does),
  whoami, directory lookup, createRoom, join;
- the Kubernetes API for Secrets (get, create, replace) and pod deletion by
  label in namespace "monitoring".

Listens on 127.0.0.1 (an ephemeral port written to PORTFILE); logs one line
per request to LOG. POST /test/revoke-tokens forgets every access token, so a
test can make the stored bot credentials invalid."""
import base64
import hashlib
import hmac
import json
import secrets
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTFILE, LOG, SHARED, SERVER = sys.argv[1:5]
state = {"nonces": set(), "users": {}, "tokens": set(), "aliases": {}, "secrets": {}, "rooms": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def token_ok(self):
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in state["tokens"]

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        with open(LOG, "a") as f:
            f.write(f"{method} {self.path}\n")
        secret_prefix = "/api/v1/namespaces/monitoring/secrets"
        if method == "GET" and path == "/_matrix/client/versions":
            return self.reply(200, {"versions": ["v1.1"]})
        if path == "/_synapse/admin/v1/register":
            if method == "GET":
                nonce = secrets.token_hex(8)
                state["nonces"].add(nonce)
                return self.reply(200, {"nonce": nonce})
            b = self.body()
            if b.get("nonce") not in state["nonces"]:
                return self.reply(400, {"errcode": "M_UNKNOWN", "error": "unrecognised nonce"})
            state["nonces"].discard(b["nonce"])
            want = hmac.new(SHARED.encode(), b"\x00".join([b["nonce"].encode(), b["username"].encode(),
                            b["password"].encode(), b"admin" if b.get("admin") else b"notadmin"]),
                            hashlib.sha1).hexdigest()
            if not hmac.compare_digest(want, b.get("mac", "")):
                return self.reply(403, {"errcode": "M_FORBIDDEN", "error": "HMAC incorrect"})
            user_id = f"@{b['username']}:{SERVER}"
            if user_id in state["users"]:
                return self.reply(400, {"errcode": "M_USER_IN_USE"})
            token = "syt_" + secrets.token_hex(8)
            state["users"][user_id] = b["password"]
            state["tokens"].add(token)
            return self.reply(200, {"user_id": user_id, "access_token": token, "home_server": SERVER})
        if path == "/_matrix/client/v3/account/whoami":
            return self.reply(200, {"user_id": "x"}) if self.token_ok() else self.reply(401, {"errcode": "M_UNKNOWN_TOKEN"})
        if path.startswith("/_matrix/client/v3/directory/room/"):
            alias = path.rsplit("/", 1)[1]
            if alias in state["aliases"]:
                return self.reply(200, {"room_id": state["aliases"][alias]})
            return self.reply(404, {"errcode": "M_NOT_FOUND"})
        if path == "/_matrix/client/v3/createRoom" and method == "POST":
            if not self.token_ok():
                return self.reply(401, {"errcode": "M_UNKNOWN_TOKEN"})
            b = self.body()
            alias = f"#{b['room_alias_name']}:{SERVER}"
            if alias in state["aliases"]:
                return self.reply(400, {"errcode": "M_ROOM_IN_USE"})
            state["rooms"] += 1
            room = f"!room{state['rooms']}:{SERVER}"
            state["aliases"][alias] = room
            return self.reply(200, {"room_id": room})
        if path.startswith("/_matrix/client/v3/join/") and method == "POST":
            alias = path.rsplit("/", 1)[1]
            if not self.token_ok() or alias not in state["aliases"]:
                return self.reply(403, {"errcode": "M_FORBIDDEN"})
            return self.reply(200, {"room_id": state["aliases"][alias]})
        if path == "/test/revoke-tokens":
            state["tokens"].clear()
            return self.reply(200, {})
        if path == "/test/state":
            return self.reply(200, {"users": sorted(state["users"]), "aliases": state["aliases"],
                                    "secrets": state["secrets"]})
        if self.headers.get("Authorization") != "Bearer sa-token" and path.startswith("/api/"):
            return self.reply(401, {"kind": "Status", "code": 401})
        if path == secret_prefix and method == "POST":
            b = self.body()
            name = b["metadata"]["name"]
            if name in state["secrets"]:
                return self.reply(409, {"kind": "Status", "code": 409})
            data = {k: base64.b64encode(v.encode()).decode() for k, v in b.get("stringData", {}).items()}
            state["secrets"][name] = data
            return self.reply(201, {"kind": "Secret", "metadata": {"name": name}, "data": data})
        if path.startswith(secret_prefix + "/"):
            name = path.rsplit("/", 1)[1]
            if method == "GET":
                if name not in state["secrets"]:
                    return self.reply(404, {"kind": "Status", "code": 404})
                return self.reply(200, {"kind": "Secret", "metadata": {"name": name}, "data": state["secrets"][name]})
            if method == "PUT":
                b = self.body()
                if name not in state["secrets"]:
                    return self.reply(404, {"kind": "Status", "code": 404})
                state["secrets"][name] = {k: base64.b64encode(v.encode()).decode()
                                          for k, v in b.get("stringData", {}).items()}
                return self.reply(200, {"kind": "Secret"})
        if path == "/api/v1/namespaces/monitoring/pods" and method == "DELETE":
            return self.reply(200, {"kind": "PodList", "items": []})
        return self.reply(404, {"error": f"mock: no route for {method} {path}"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os  # noqa: E402
os.replace(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
