#!/usr/bin/env python3
"""Sets up a run of a built cluster's proxmox.* steps against the simulator
(tests/api/mock_server.py), so that the requests the runner really sends for
that cluster can be checked against the Proxmox API schema.

    pve_scenario.py ROOT WORK MOCK_URL HOST_PUBKEY_FILE

ROOT is out/<cluster>/. Writes into WORK: scenario.json (the simulator's
accounts, and each VM's guest answering the host-key read), values.json (one
throw-away value per secret the steps declare), overrides.json (every
proxmox block's endpoint pointed at MOCK_URL) and steps.tsv (builtin and
args file, in run order: ISOs, VMs, host keys); and under WORK the local
media files the ISO steps upload, as small random files. Prints nothing.
"""
import json
import os
import sys

ORDER = {"proxmox.iso": 0, "proxmox.vm": 1, "proxmox.hostkey": 2}
SECRET = "consumers-throwaway-secret"


def main():
    root, work, mock, pubkey = sys.argv[1:5]
    plan = json.load(open(os.path.join(root, "plan.json")))
    steps = sorted((s for s in plan["steps"] if s.get("builtin") in ORDER),
                   key=lambda s: ORDER[s["builtin"]])
    scenario = {"pve_password": SECRET, "tokens": {}, "task_running_polls": 0, "guests": {}}
    values, blocks = {}, set()
    key = open(pubkey).read()
    with open(os.path.join(work, "steps.tsv"), "w") as out:
        for s in steps:
            path = os.path.join(root, s["args"])
            args = json.load(open(path))
            blocks.add(args["proxmox"])
            for name in s.get("secrets", []):
                values[name] = SECRET
            auth = args["auth"]
            if "user" in auth:
                scenario["pve_user"] = auth["user"]
            else:
                scenario["tokens"][auth["token_id"]] = SECRET
            for f in (args.get("file"), args.get("vm", {}).get("cidata_file")):
                if f and not os.path.exists(os.path.join(work, f)):
                    os.makedirs(os.path.dirname(os.path.join(work, f)), exist_ok=True)
                    with open(os.path.join(work, f), "wb") as m:
                        m.write(os.urandom(4096))
            if s["builtin"] == "proxmox.hostkey":
                vm = args["vm"]
                scenario["guests"][str(vm["vmid"])] = {
                    "files": {args["marker"]: vm["name"] + "\n", args["key_file"]: key}}
            out.write("%s\t%s\n" % (s["builtin"], path))
    json.dump(scenario, open(os.path.join(work, "scenario.json"), "w"))
    json.dump(values, open(os.path.join(work, "values.json"), "w"))
    json.dump({"proxmox": {b: {"endpoint": mock} for b in sorted(blocks)}, "hosts": {}},
              open(os.path.join(work, "overrides.json"), "w"))


if __name__ == "__main__":
    main()
