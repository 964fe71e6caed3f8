#!/usr/bin/env python3
"""Extracts from the official Proxmox VE API schema the endpoints the runner
calls (compiler/api/pve_client.c, proxmox_vm.c, proxmox_iso.c,
proxmox_hostkey.c) and the ones the simulator serves to the tests, into
tests/consumers/proxmox-api-subset.json, with its provenance.

    pve_api_subset.py PVE_DOCS_GIT_DIR [OUT.json]

PVE_DOCS_GIT_DIR is a clone of github.com/proxmox/pve-docs (bare is fine); the
schema is api-viewer/apidata.js at its HEAD (a JavaScript file: the JSON follows
"const apiSchema = "). The whole schema is 2+ MB and not kept; the subset keeps
each method's parameters whole (every property, so a misspelled name is
told from a real one) with only the prose descriptions dropped.
"""
import datetime
import json
import re
import subprocess
import sys

# path template -> methods; "runner" are the runner's own requests, the rest
# are what tests/e2e and tests/runner send the simulator besides.
ENDPOINTS = {
    "/access/ticket": ["POST"],
    "/cluster/resources": ["GET"],
    "/nodes/{node}/qemu": ["POST"],
    "/nodes/{node}/qemu/{vmid}": ["DELETE"],
    "/nodes/{node}/qemu/{vmid}/config": ["GET"],
    "/nodes/{node}/qemu/{vmid}/status/current": ["GET"],
    "/nodes/{node}/qemu/{vmid}/status/start": ["POST"],
    "/nodes/{node}/qemu/{vmid}/status/stop": ["POST"],
    "/nodes/{node}/qemu/{vmid}/status/shutdown": ["POST"],
    "/nodes/{node}/qemu/{vmid}/agent/ping": ["POST"],
    "/nodes/{node}/qemu/{vmid}/agent/file-read": ["GET"],
    "/nodes/{node}/tasks/{upid}/status": ["GET"],
    "/nodes/{node}/tasks/{upid}/log": ["GET"],
    "/nodes/{node}/storage/{storage}/content": ["GET"],
    "/nodes/{node}/storage/{storage}/upload": ["POST"],
}
PROSE = ("description", "verbose_description")


def git(gitdir, *args):
    return subprocess.run(["git", "--git-dir", gitdir] + list(args), check=True,
                          capture_output=True, text=True).stdout


def strip_prose(x):
    if isinstance(x, dict):
        return {k: strip_prose(v) for k, v in x.items() if k not in PROSE}
    if isinstance(x, list):
        return [strip_prose(v) for v in x]
    return x


def parameters(params):
    """The parameters without prose; a numbered property ("ide[n]") keeps the
    range its description gives ("n is 0 to 3") as n_range."""
    out = strip_prose(params)
    for name, prop in params.get("properties", {}).items():
        m = re.search(r"\(n is (\d+) to (\d+)\)", prop.get("description", ""))
        if name.endswith("[n]") and m:
            out["properties"][name]["n_range"] = [int(m.group(1)), int(m.group(2))]
    return out


def walk(node):
    yield node
    for c in node.get("children", []):
        yield from walk(c)


def main():
    gitdir = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "tests/consumers/proxmox-api-subset.json"
    text = git(gitdir, "show", "HEAD:api-viewer/apidata.js")
    start = text.index("const apiSchema = ") + len("const apiSchema = ")
    schema, _ = json.JSONDecoder().raw_decode(text[start:])
    by_path = {n["path"]: n for root in schema for n in walk(root)}
    endpoints = {}
    for path, methods in ENDPOINTS.items():
        info = by_path[path]["info"]
        endpoints[path] = {m: {"parameters": parameters(info[m].get("parameters", {})),
                               "allowtoken": info[m].get("allowtoken", 0)} for m in methods}
    subset = {
        "_provenance": {
            "source": "https://github.com/proxmox/pve-docs",
            "path": "api-viewer/apidata.js",
            "commit": git(gitdir, "rev-parse", "HEAD").strip(),
            "version": git(gitdir, "show", "HEAD:debian/changelog").splitlines()[0],
            "fetched": datetime.date.today().isoformat(),
            "extraction": "python3 tests/consumers/pve_api_subset.py PVE_DOCS_GIT_DIR",
            "kept": "the listed endpoints' methods, parameters whole, descriptions dropped "
                    "(a numbered property's '(n is A to B)' kept as n_range)",
        },
        "endpoints": endpoints,
    }
    with open(out, "w") as f:
        json.dump(subset, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
