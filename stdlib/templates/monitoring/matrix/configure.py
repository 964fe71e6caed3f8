# configure.py (matrix pod, init container): writes homeserver.yaml on the first
# start, then on every start sets the settings clusterc owns, so they survive
# restarts and edits: PostgreSQL in the sidecar, the registration shared secret
# from the matrix-db Secret, open registration for the people who receive the
# alerts, the public URL and proxy headers. Values come from the environment.
import os
import subprocess
import yaml

path = os.path.join(os.environ["SYNAPSE_CONFIG_DIR"], "homeserver.yaml")
if not os.path.exists(path):
    subprocess.run(["/start.py", "generate"], check=True)

with open(path) as f:
    conf = yaml.safe_load(f) or {}

conf["database"] = {
    "name": "psycopg2",
    "args": {
        "user": "synapse",
        "password": os.environ["POSTGRES_PASSWORD"],
        "database": "synapse",
        "host": "127.0.0.1",
        "port": 5432,
        "cp_min": 5,
        "cp_max": 10,
    },
}
conf["registration_shared_secret"] = os.environ["REGISTRATION_SHARED_SECRET"]
conf["enable_registration"] = True
conf["enable_registration_without_verification"] = True
conf["report_stats"] = False
conf["public_baseurl"] = os.environ["SYNAPSE_PUBLIC_BASEURL"]
# No federation: the server name is a private cluster domain that no other
# homeserver can resolve, and Matrix federation needs TLS on 8448 (or delegation),
# which this pod does not serve: the image's generated config has one plain-HTTP
# listener on 8008 (synapse/config/server.py, generate with --open-private-ports,
# at the pinned tag). So no 8448 port is exposed, and an empty whitelist makes
# Synapse refuse federation both ways instead of trying it.
conf["federation_domain_whitelist"] = []
for listener in conf.get("listeners") or []:
    if listener.get("port") == 8008:
        listener["x_forwarded"] = True

tmp = path + ".tmp"
with open(tmp, "w") as f:
    yaml.safe_dump(conf, f, default_flow_style=False, sort_keys=True)
os.chmod(tmp, 0o640)
os.replace(tmp, path)
# Synapse runs as UID/GID 991 (the image's start.py drops to it).
for root, dirs, files in os.walk(os.environ["SYNAPSE_DATA_DIR"]):
    for name in dirs + files:
        os.lchown(os.path.join(root, name), 991, 991)
os.chown(os.environ["SYNAPSE_DATA_DIR"], 991, 991)
print("homeserver.yaml: database psycopg2 on 127.0.0.1:5432, shared-secret registration on")
