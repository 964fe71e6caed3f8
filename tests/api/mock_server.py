#!/usr/bin/env python3
"""Mock Proxmox VE and GitLab APIs for tests/api/run.sh (127.0.0.1 only).

Speaks just enough of the documented APIs (shared/reference/FACTS.md sections 1
and 2) to drive the builtins, and checks what real servers check: the ticket
cookie plus CSRF header on writes, the PVEAPIToken header split at the last
'=', percent-encoded UPIDs and project paths, multipart field order and
Content-Length on uploads.

    mock_server.py PORT_FILE LOG_FILE [CERT KEY]

With CERT and KEY it speaks HTTPS (for the TLS verification tests).

Binds 127.0.0.1 on a free port and writes it to PORT_FILE. Each request is
appended to LOG_FILE as one JSON line (method, raw path, auth kind, status,
and "params": the query and body parameters by name, a multipart file part as
its filename; tests/consumers checks them against the Proxmox API schema).
Credentials never reach the log: the values of SECRET_PARAMS are replaced by
REDACTED, and headers (cookie, CSRF token, API token) are not logged at all. POST /__mock/config with a JSON object resets
the state and sets the scenario (see DEFAULTS); GET /__mock/state returns it.
"""
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULTS = {
    "pve_user": "root@pam",
    "pve_password": "",
    "auth_delay": 0.1,          # real Proxmox: 3 s before a 401 on /access/ticket
    "ticket_lifetime": 7200,    # seconds a ticket is valid (real Proxmox: 2 hours)
    "tokens": {},               # token id -> secret
    "vms": [],                  # {vmid, name, node, status, type}
    "isos": [],                 # volids, or {volid, size}
    "task_running_polls": 1,    # status answers "running" this many times first
    "lock_polls": 0,            # a new VM answers status/current with lock=create this often
    "task_exit": {},            # task type -> exitstatus (default "OK")
    "gitlab_token": "",
    "gitlab_projects": {},      # "group/sub/proj" -> [ {id, title, key, can_push} ]
    "gitlab_page_max": 100,     # cap per_page to force pagination
    "gitlab_role_ok": True,     # False: 403 on deploy key calls
    "gitlab_list_hidden": False,  # True: the list is empty but POST still says "taken"
    "faults": [],               # {method, path (regex on the raw path), mode, times, delay}
    # The guest side of a VM, for the agent endpoints: vmid -> {"agent_after":
    # pings answered "not running" first, "files": {path: content}, "files_after":
    # agent calls before the files appear, "forbidden": 403 on agent calls}.
    "guests": {},
    # The simulator side (tests/e2e): "store" is a folder where uploaded volumes
    # are kept (STORE/STORAGE/iso/NAME), so a later step reads what was really
    # sent; "boot_hook" is an argv run when a VM starts, after "install_delay"
    # seconds, with VMID NAME CIDATA_PATH appended: it "installs" the VM from its
    # seed and prints the guest as JSON ({"root": DIR, "alias": {path: path},
    # "files": {path: content}}), which the agent endpoints then serve.
    "store": "",
    "boot_hook": [],
    "install_delay": 0,
}

# Parameters whose values are secret (a renewal sends the ticket as the
# password) or keys (sshkeys, GitLab's deploy key): logged by name only.
SECRET_PARAMS = {"password", "new-password", "cipassword", "otp", "tfa-challenge",
                 "sshkeys", "key", "token", "ticket"}
REDACTED = "(redacted)"

TICKET = "PVE:root@pam:6745A1B2::c2lnbmF0dXJlLW5vdC1yZWFs"
CSRF = "6745A1B2:Y3NyZi1tb2Nr"


def stored_config(vmid, params):
    """The config Proxmox keeps for a create request (GET .../config): a disk
    "STORAGE:SIZE" becomes the allocated volume with its size, a NIC gets its
    MAC, numbers are numbers (qm.conf(5); pve-manager's qemu-server API)."""
    cfg = {k: v for k, v in params.items() if k not in ("vmid", "node", "start")}
    disk = 0
    for key in sorted(cfg):
        val = str(cfg[key])
        m = re.match(r"^([A-Za-z0-9_.-]+):(\d+)(,.*)?$", val)
        if m and (re.match(r"^(scsi|virtio|sata|ide)\d+$", key) or key == "efidisk0"):
            size = "4M" if key == "efidisk0" else m.group(2) + "G"
            cfg[key] = "%s:vm-%d-disk-%d%s,size=%s" % (m.group(1), vmid, disk, m.group(3) or "", size)
            disk += 1
        m = re.match(r"^(virtio|e1000|rtl8139|vmxnet3)(,.*)?$", val)
        if m and re.match(r"^net\d+$", key):
            mac = "BC:24:11:%02X:%02X:%02X" % ((vmid >> 16) & 255, (vmid >> 8) & 255, vmid & 255)
            cfg[key] = "%s=%s%s" % (m.group(1), mac, m.group(2) or "")
    for key in ("cores", "sockets", "onboot", "agent", "balloon"):
        if key in cfg and str(cfg[key]).isdigit():
            cfg[key] = int(cfg[key])
    return cfg


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset({})

    def reset(self, cfg):
        self.cfg = json.loads(json.dumps(DEFAULTS))
        self.cfg.update(cfg)
        self.vms = {int(v["vmid"]): {k: x for k, x in v.items() if k != "config"}
                    for v in self.cfg["vms"]}
        self.isos = [i if isinstance(i, dict) else {"volid": i, "size": 1}
                     for i in self.cfg["isos"]]
        self.tasks = {}
        self.created = []
        self.uploads = []
        self.keys = {p: list(k) for p, k in self.cfg["gitlab_projects"].items()}
        self.faults = [dict(f) for f in self.cfg["faults"]]
        self.seq = 0
        self.tickets = {}           # ticket -> monotonic time issued
        self.renewals = 0
        self.boots = []             # {vmid, name, rc, stderr}: boot hook runs
        # vmid -> the VM's config (GET .../config): from the create request, or
        # "config" (create parameters) on a seeded VM.
        self.configs = {int(v["vmid"]): stored_config(int(v["vmid"]), v["config"])
                        for v in self.cfg["vms"] if "config" in v}

    def snapshot(self):
        return {"vms": list(self.vms.values()), "isos": self.isos, "created": self.created,
                "uploads": self.uploads, "keys": self.keys, "ticket_renewals": self.renewals,
                "boots": self.boots}


STATE = State()
LOG_LOCK = threading.Lock()
LOG_PATH = None


def multipart_parts(ctype, body):
    """[(name, filename or None, data)] of a multipart/form-data body; raises
    ValueError with the answer's text when it is not one."""
    m = re.search(r"boundary=\"?([^\";]+)\"?", ctype)
    if not ctype.startswith("multipart/form-data") or not m:
        raise ValueError("expected multipart/form-data")
    delim = b"--" + m.group(1).encode()
    parts = []
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        disp = re.search(rb'Content-Disposition: form-data; name="([^"]*)"(?:; filename="([^"]*)")?',
                         head, re.I)
        if not disp:
            raise ValueError("part without Content-Disposition")
        parts.append((disp.group(1).decode(), disp.group(2).decode() if disp.group(2) else None, data))
    return parts


def request_params(path, ctype, body):
    """The parameters of one request by name, as the API reads them: the query
    string, then the body (urlencoded, JSON or multipart; a file part counts as
    its filename). Secret values redacted."""
    params = {}
    for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(path).query, keep_blank_values=True).items():
        params[k] = v[0] if len(v) == 1 else v
    if body:
        try:
            if ctype.startswith("application/json"):
                params.update(json.loads(body))
            elif ctype.startswith("multipart/form-data"):
                for name, fname, data in multipart_parts(ctype, body):
                    params[name] = fname if fname is not None else data.decode(errors="replace")
            else:
                for k, v in urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True).items():
                    params[k] = v[0] if len(v) == 1 else v
        except (ValueError, AttributeError):
            params["(unparsed body)"] = True
    return {k: REDACTED if k in SECRET_PARAMS else v for k, v in params.items()}


def key_core(k):
    parts = (k or "").split()
    return " ".join(parts[:2])


class Handler(BaseHTTPRequestHandler):
    server_version = "mock/1"

    def log_message(self, *a):  # quiet
        pass

    # ---- plumbing
    def record(self, status, **extra):
        if getattr(self, "no_record", False):
            return
        # Only a body already read counts: a "slow" or "reset" fault logs
        # before the body is read.
        params = request_params(self.path, self.headers.get("Content-Type", ""),
                                getattr(self, "raw_body", None))
        entry = {"method": self.command, "path": self.path, "status": status,
                 "auth": getattr(self, "auth_kind", None), "t": round(time.time(), 3),
                 "params": params}
        entry.update(extra)
        with LOG_LOCK, open(LOG_PATH, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def send(self, status, obj=None, reason=None, raw=None, headers=None, **extra):
        if getattr(self, "lose_answer", False):
            # The work was done, but the client sees a gateway error.
            status, obj, raw, reason = 502, {"data": None}, None, "Bad Gateway (answer lost)"
            extra["fault"] = "lost"
        body = raw if raw is not None else json.dumps(obj).encode()
        # Logged before answering, so a test that reads the log right after
        # the client returns sees every request (control calls are not logged).
        if not self.path.startswith("/__mock/"):
            self.record(status, **extra)
        self.send_response(status, reason)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.chunked = True
            return None
        n = self.headers.get("Content-Length")
        if n is None:
            return None
        self.raw_body = self.rfile.read(int(n))
        return self.raw_body

    def fault(self):
        with STATE.lock:
            for f in STATE.faults:
                if f.get("times", 1) <= 0:
                    continue
                if f.get("method") and f["method"] != self.command:
                    continue
                if not re.search(f.get("path", ""), self.path):
                    continue
                f["times"] = f.get("times", 1) - 1
                return f
        return None

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        self.auth_kind = None
        self.chunked = False
        self.no_record = False
        self.lose_answer = False
        self.raw_body = None
        raw = self.path
        if raw.startswith("/__mock/"):
            return self.control(raw)
        f = self.fault()
        if f:
            mode = f["mode"]
            if mode == "reset":
                self.record("reset")
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if mode == "lost":
                self.lose_answer = True
            elif mode == "slow":
                # Logged on arrival: the client may have given up long before
                # the answer, and a late log line would land in the next test.
                self.record("slow")
                self.no_record = True
                time.sleep(f.get("delay", 5))
            elif mode in ("badjson",):
                self.body()
                return self.send(200, raw=b"{\"data\": [not json", fault=mode)
            elif mode == "429":
                self.body()
                return self.send(429, {"message": "slow down"}, "Too Many Requests",
                                 headers={"Retry-After": "0"}, fault=mode)
            else:
                self.body()
                code = int(mode)
                return self.send(code, {"data": None, "message": "mock fault %d" % code},
                                 "mock fault %d" % code, fault=mode)
        if raw.startswith("/api2/json/"):
            return self.proxmox(raw[len("/api2/json"):])
        if raw.startswith("/api/v4/"):
            return self.gitlab(raw[len("/api/v4"):])
        self.send(404, {"message": "no such mock path"})

    def control(self, raw):
        if raw == "/__mock/config" and self.command == "POST":
            cfg = json.loads(self.body() or b"{}")
            with STATE.lock:
                STATE.reset(cfg)
            return self.send(200, {"ok": True})
        if raw == "/__mock/state":
            with STATE.lock:
                return self.send(200, STATE.snapshot())
        if raw == "/__mock/vm_config" and self.command == "POST":
            # A person changing a VM out of band (web UI, qm set): {"vmid": N,
            # "set": {create-style params}, "delete": [keys]}. Not an API
            # request of the runner's, so not in the request log.
            req = json.loads(self.body() or b"{}")
            with STATE.lock:
                cfg = STATE.configs.get(int(req["vmid"]))
                if cfg is None:
                    return self.send(404, {"message": "no such VM"})
                for k in req.get("delete", []):
                    cfg.pop(k, None)
                cfg.update(stored_config(int(req["vmid"]), req.get("set", {})))
            return self.send(200, {"ok": True})
        self.send(404, {"message": "bad control path"})

    # ---- Proxmox
    def ticket_valid(self, t):
        with STATE.lock:
            issued = STATE.tickets.get(t)
        return issued is not None and time.monotonic() - issued < STATE.cfg["ticket_lifetime"]

    def pve_auth(self, write):
        """Returns None when authorised, else sends the error and returns True."""
        authz = self.headers.get("Authorization", "")
        cookie = self.headers.get("Cookie", "")
        m = re.match(r"^PVEAPIToken[= ](.*)$", authz)
        if m:
            self.auth_kind = "token"
            mm = re.match(r"^(.*)=(.*)$", m.group(1))  # split at the LAST '='
            if not mm or STATE.cfg["tokens"].get(mm.group(1)) != mm.group(2) or not mm.group(2):
                self.send(401, {"data": None}, "authentication failure")
                return True
            self.pve_authuser = mm.group(1)
            return None
        if "PVEAuthCookie=" in cookie:
            self.auth_kind = "ticket"
            t = cookie.split("PVEAuthCookie=", 1)[1].split(";", 1)[0]
            if not self.ticket_valid(t):
                self.send(401, {"data": None}, "invalid ticket")
                return True
            if write and self.headers.get("CSRFPreventionToken") != CSRF:
                self.send(401, {"data": None}, "Permission denied - invalid csrf token")
                return True
            self.pve_authuser = STATE.cfg["pve_user"]
            return None
        self.send(401, {"data": None}, "No ticket")
        return True

    def pve_agent(self, vmid, cmd, query):
        """The guest agent as Proxmox relays it (PVE/API2/Qemu/Agent.pm):
        ping is POST, file-read is GET ?file= and answers {content}."""
        if (cmd == "ping") != (self.command == "POST"):
            return self.send(501, {"data": None}, "Method not implemented")
        with STATE.lock:
            vm = STATE.vms.get(vmid)
            guest = STATE.cfg["guests"].get(str(vmid), {})
            if not vm:
                return self.send(500, {"data": None}, "Configuration file 'nodes/pve/qemu-server/%d.conf' does not exist" % vmid)
            if guest.get("forbidden"):
                return self.send(403, {"data": None}, "Permission check failed (/vms/%d, VM.Monitor)" % vmid)
            if vm.get("status") != "running":
                return self.send(500, {"data": None}, "VM %d is not running" % vmid)
            guest["calls"] = guest.get("calls", 0) + 1
            STATE.cfg["guests"][str(vmid)] = guest
            booting = STATE.cfg["boot_hook"] and not guest.get("booted")
            if guest["calls"] <= guest.get("agent_after", 0) or booting:
                return self.send(500, {"data": None}, "QEMU guest agent is not running")
            if cmd == "ping":
                return self.send(200, {"data": {"result": {}}})
            path = query.get("file", [""])[0]
            files = guest.get("files", {}) if guest["calls"] > guest.get("files_after", 0) else {}
            content = files.get(path)
            if content is None and guest.get("root") and path.startswith("/") and ".." not in path:
                # The booted lab host's own files: what its seed really wrote.
                real = guest.get("alias", {}).get(path, path)
                try:
                    with open(guest["root"] + real, encoding="utf-8", errors="replace") as f:
                        content = f.read()
                except OSError:
                    content = None
            if content is None:
                return self.send(500, {"data": None}, "can't open file - No such file or directory")
            return self.send(200, {"data": {"content": content, "bytes-read": len(content)}})

    def no_vm(self, node, vmid):
        return self.send(500, {"data": None}, "Configuration file 'nodes/%s/qemu-server/%s.conf' does not exist" % (node, vmid))

    def new_task(self, node, ttype, vmid):
        with STATE.lock:
            STATE.seq += 1
            upid = "UPID:%s:%08X:%08X:%08X:%s:%s:%s:" % (
                node, 4000 + STATE.seq, 1000 + STATE.seq, int(time.time()), ttype, vmid,
                self.pve_authuser)
            STATE.tasks[upid] = {"type": ttype, "polls": 0}
        return upid

    def proxmox(self, path):
        parsed = urllib.parse.urlsplit(path)
        p, query = parsed.path, urllib.parse.parse_qs(parsed.query)
        write = self.command != "GET"
        if p == "/access/ticket" and self.command == "POST":
            form = urllib.parse.parse_qs((self.body() or b"").decode())
            user = form.get("username", [""])[0]
            pw = form.get("password", [""])[0]
            # A valid ticket in place of the password renews it, as on a
            # real Proxmox (pve.proxmox.com/wiki/Proxmox_VE_API, "Authentication").
            renewing = user == STATE.cfg["pve_user"] and self.ticket_valid(pw)
            if not renewing and (user != STATE.cfg["pve_user"] or pw != STATE.cfg["pve_password"] or not pw):
                time.sleep(STATE.cfg["auth_delay"])
                return self.send(401, {"data": None}, "authentication failure")
            with STATE.lock:
                ticket = TICKET if not STATE.tickets else "PVE:%s:%08X::c2lnbmF0dXJlLW5vdC1yZWFs%d" % (
                    user, int(time.time()), len(STATE.tickets))
                STATE.tickets[ticket] = time.monotonic()
                STATE.renewals += renewing
            return self.send(200, {"data": {"username": user, "ticket": ticket,
                                            "CSRFPreventionToken": CSRF}})
        body = self.body() if write else None
        if self.chunked:
            return self.send(501, {"data": None}, "chunked transfer encoding not supported")
        if self.pve_auth(write):
            return
        if p == "/cluster/resources" and self.command == "GET":
            with STATE.lock:
                vms = [dict(v, type=v.get("type", "qemu"), id="qemu/%d" % v["vmid"])
                       for v in STATE.vms.values()]
            return self.send(200, {"data": vms})
        m = re.match(r"^/nodes/([^/]+)/qemu$", p)
        if m and self.command == "POST":
            return self.pve_create(m.group(1), body)
        m = re.match(r"^/nodes/([^/]+)/qemu/(\d+)/status/(start|stop|shutdown)$", p)
        if m and self.command == "POST":
            vmid, action = int(m.group(2)), m.group(3)
            with STATE.lock:
                vm = STATE.vms.get(vmid)
                if not vm:
                    return self.no_vm(m.group(1), vmid)
                was = vm.get("status")
                vm["status"] = "running" if action == "start" else "stopped"
                boot = action == "start" and STATE.cfg["boot_hook"] and was != "running"
                if action != "start":
                    STATE.cfg["guests"].get(str(vmid), {}).pop("booted", None)
            if boot:
                threading.Thread(target=boot_vm, args=(vmid,), daemon=True).start()
            return self.send(200, {"data": self.new_task(m.group(1), "qm" + action, vmid)})
        m = re.match(r"^/nodes/([^/]+)/qemu/(\d+)$", p)
        if m and self.command == "DELETE":
            vmid = int(m.group(2))
            with STATE.lock:
                vm = STATE.vms.get(vmid)
                if not vm:
                    return self.no_vm(m.group(1), vmid)
                if vm.get("status") == "running":
                    return self.send(500, {"data": None}, "VM %d is running - destroy failed" % vmid)
                del STATE.vms[vmid]
                STATE.configs.pop(vmid, None)
                STATE.cfg["guests"].pop(str(vmid), None)
            return self.send(200, {"data": self.new_task(m.group(1), "qmdestroy", vmid)})
        m = re.match(r"^/nodes/([^/]+)/qemu/(\d+)/config$", p)
        if m and self.command == "GET":
            with STATE.lock:
                cfg = STATE.configs.get(int(m.group(2)))
                if cfg is None:
                    return self.no_vm(m.group(1), m.group(2))
                out = {k: v for k, v in cfg.items() if k not in ("vmid", "node", "start")}
                out["digest"] = hashlib.sha1(json.dumps(out, sort_keys=True).encode()).hexdigest()
            return self.send(200, {"data": out})
        m = re.match(r"^/nodes/([^/]+)/qemu/(\d+)/status/current$", p)
        if m and self.command == "GET":
            with STATE.lock:
                vm = STATE.vms.get(int(m.group(2)))
                if not vm:
                    return self.send(500, {"data": None}, "VM %s does not exist" % m.group(2))
                out = {"vmid": vm["vmid"], "name": vm["name"], "status": vm.get("status", "stopped")}
                if vm.get("lock_left", 0) > 0:
                    vm["lock_left"] -= 1
                    out["lock"] = vm.get("lock", "create")
            return self.send(200, {"data": out})
        m = re.match(r"^/nodes/([^/]+)/qemu/(\d+)/agent/(ping|file-read)$", p)
        if m:
            return self.pve_agent(int(m.group(2)), m.group(3), query)
        m = re.match(r"^/nodes/([^/]+)/tasks/([^/]+)/(status|log)$", p)
        if m and self.command == "GET":
            enc = self.path.split("/tasks/", 1)[1].split("/", 1)[0]
            if ":" in enc:
                return self.send(400, {"data": None}, "UPID not percent-encoded")
            upid = urllib.parse.unquote(m.group(2))
            with STATE.lock:
                task = STATE.tasks.get(upid)
                if not task:
                    return self.send(500, {"data": None}, "no such task")
                if m.group(3) == "log":
                    ex = STATE.cfg["task_exit"].get(task["type"], "OK")
                    lines = [{"n": i + 1, "t": "mock line %d" % (i + 1)} for i in range(20)]
                    lines.append({"n": 21, "t": "TASK ERROR: " + ex})
                    return self.send(200, {"data": lines, "total": len(lines)})
                task["polls"] += 1
                running = task["polls"] <= STATE.cfg["task_running_polls"]
                out = {"status": "running" if running else "stopped", "upid": upid,
                       "type": task["type"], "node": m.group(1)}
                if not running:
                    out["exitstatus"] = STATE.cfg["task_exit"].get(task["type"], "OK")
            return self.send(200, {"data": out})
        m = re.match(r"^/nodes/([^/]+)/storage/([^/]+)/content$", p)
        if m and self.command == "GET":
            with STATE.lock:
                lst = [{"volid": v["volid"], "format": "iso", "size": v["size"], "content": "iso"}
                       for v in STATE.isos if v["volid"].startswith(m.group(2) + ":")]
            return self.send(200, {"data": lst})
        m = re.match(r"^/nodes/([^/]+)/storage/([^/]+)/upload$", p)
        if m and self.command == "POST":
            return self.pve_upload(m.group(1), m.group(2), body)
        self.send(501, {"data": None}, "Method '%s %s' not implemented" % (self.command, p))

    def pve_create(self, node, body):
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            params = json.loads(body or b"{}")
        else:
            params = {k: v[0] for k, v in urllib.parse.parse_qs((body or b"").decode(),
                                                                 keep_blank_values=True).items()}
        errors = {}
        for req in ("vmid", "name", "scsi0", "net0", "ide2", "memory", "cores"):
            if req not in params:
                errors[req] = "property is missing and it is not optional"
        if errors:
            return self.send(400, {"data": None, "errors": errors}, "Parameter verification failed.")
        hp = params.get("hostpci0", "")
        if hp and not hp.startswith("mapping=") and self.pve_authuser != "root@pam":
            return self.send(403, {"data": None},
                             "only root can set 'hostpci0' config for non-mapped devices")
        vmid = int(params["vmid"])
        with STATE.lock:
            if vmid in STATE.vms:
                return self.send(500, {"data": None}, "unable to create VM %d - VM %d already exists on node '%s'" % (vmid, vmid, node))
            STATE.vms[vmid] = {"vmid": vmid, "name": params["name"], "node": node,
                               "status": "stopped", "type": "qemu", "lock": "create",
                               "lock_left": STATE.cfg["lock_polls"]}
            STATE.created.append(params)
            STATE.configs[vmid] = stored_config(vmid, params)
        return self.send(200, {"data": self.new_task(node, "qmcreate", vmid)})

    def pve_upload(self, node, storage, body):
        if self.headers.get("Content-Length") is None or body is None:
            return self.send(400, {"data": None}, "missing Content-Length")
        try:
            parts = multipart_parts(self.headers.get("Content-Type", ""), body)
        except ValueError as e:
            return self.send(400, {"data": None}, str(e))
        names = [p[0] for p in parts]
        if names not in (["content", "filename"], ["content", "checksum-algorithm", "checksum", "filename"]):
            return self.send(400, {"data": None}, "unexpected multipart field order %s" % names)
        fields = {p[0]: p[2].decode(errors="replace") for p in parts[:-1]}
        fname, fdata = parts[-1][1], parts[-1][2]
        if not fname:
            return self.send(400, {"data": None}, "file part has no filename attribute")
        if fields["content"] != "iso":
            return self.send(400, {"data": None, "errors": {"content": "bad content"}}, "Parameter verification failed.")
        if "checksum" in fields:
            if fields["checksum-algorithm"] != "sha256" or hashlib.sha256(fdata).hexdigest() != fields["checksum"]:
                with STATE.lock:
                    STATE.cfg["task_exit"]["imgcopy"] = "checksum mismatch: got '%s'" % hashlib.sha256(fdata).hexdigest()
        with STATE.lock:
            STATE.uploads.append({"filename": fname, "size": len(fdata), "fields": names,
                                  "content_length": int(self.headers["Content-Length"])})
            if "imgcopy" not in STATE.cfg["task_exit"]:
                volid = "%s:iso/%s" % (storage, fname)
                if STATE.cfg["store"] and "/" not in fname and not fname.startswith("."):
                    d = os.path.join(STATE.cfg["store"], storage, "iso")
                    os.makedirs(d, exist_ok=True)
                    with open(os.path.join(d, fname + ".part"), "wb") as f:
                        f.write(fdata)
                    os.replace(os.path.join(d, fname + ".part"), os.path.join(d, fname))
                STATE.isos = [i for i in STATE.isos if i["volid"] != volid]
                STATE.isos.append({"volid": volid, "size": len(fdata)})
        return self.send(200, {"data": self.new_task(node, "imgcopy", "")})

    # ---- GitLab
    def gitlab(self, path):
        parsed = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(parsed.query)
        m = re.match(r"^/projects/([^/]+)/deploy_keys$", parsed.path)
        if not m:
            return self.send(404, {"message": "404 Not Found"})
        body = self.body() if self.command == "POST" else None
        tok = self.headers.get("PRIVATE-TOKEN")
        self.auth_kind = "private-token" if tok else None
        if not tok or tok != STATE.cfg["gitlab_token"]:
            return self.send(401, {"message": "401 Unauthorized"}, "Unauthorized")
        if "/" in m.group(1) or "%2F" not in m.group(1) and "%" in m.group(1):
            return self.send(404, {"message": "404 Project Not Found"})
        project = urllib.parse.unquote(m.group(1))
        with STATE.lock:
            keys = STATE.keys.get(project)
        if keys is None:
            return self.send(404, {"message": "404 Project Not Found"})
        if not STATE.cfg["gitlab_role_ok"]:
            return self.send(403, {"message": "403 Forbidden"}, "Forbidden")
        if self.command == "GET":
            per = min(int(query.get("per_page", ["20"])[0]), STATE.cfg["gitlab_page_max"], 100)
            page = int(query.get("page", ["1"])[0])
            sl = [] if STATE.cfg["gitlab_list_hidden"] else keys[(page - 1) * per: page * per]
            nxt = str(page + 1) if page * per < len(keys) else ""
            return self.send(200, sl, headers={"X-Next-Page": nxt, "X-Page": str(page),
                                               "X-Per-Page": str(per), "X-Total": str(len(keys))})
        if self.command == "POST":
            if self.headers.get("Content-Type", "") != "application/json":
                return self.send(415, {"message": "415 Unsupported Media Type"})
            req = json.loads(body or b"{}")
            if not req.get("title") or not req.get("key"):
                return self.send(400, {"error": "title, key are missing"})
            with STATE.lock:
                if any(key_core(k["key"]) == key_core(req["key"]) for k in keys):
                    return self.send(400, {"message": {"deploy_key.fingerprint_sha256": ["has already been taken"]}})
                new = {"id": 1000 + len(keys), "title": req["title"], "key": req["key"],
                       "can_push": bool(req.get("can_push"))}
                keys.append(new)
            return self.send(201, new)
        self.send(405, {"message": "405 Method Not Allowed"})


def boot_vm(vmid):
    """A started VM "installs" itself: after install_delay the boot hook applies
    the seed on the VM's cidata volume (ide3) to the lab host that plays it."""
    time.sleep(STATE.cfg["install_delay"])
    with STATE.lock:
        vm = STATE.vms.get(vmid)
        cfg = STATE.configs.get(vmid, {})
        hook = list(STATE.cfg["boot_hook"])
        store = STATE.cfg["store"]
        if not vm or vm.get("status") != "running":
            return
        name = vm["name"]
    cidata = ""
    m = re.match(r"^([^:,]+):iso/([^,]+),media=cdrom$", cfg.get("ide3", ""))
    if m and store:
        cidata = os.path.join(store, m.group(1), "iso", m.group(2))
    proc = subprocess.run(hook + [str(vmid), name, cidata], capture_output=True, text=True)
    guest = {}
    if proc.returncode == 0:
        try:
            guest = json.loads(proc.stdout or "{}")
        except ValueError:
            proc = subprocess.CompletedProcess(proc.args, 99, proc.stdout, "hook printed no JSON")
    with STATE.lock:
        STATE.boots.append({"vmid": vmid, "name": name, "rc": proc.returncode,
                            "stderr": proc.stderr[-2000:]})
        if proc.returncode == 0 and vmid in STATE.vms:
            g = STATE.cfg["guests"].setdefault(str(vmid), {})
            g.update(guest)
            g["booted"] = True


def main():
    global LOG_PATH
    port_file, LOG_PATH = sys.argv[1], sys.argv[2]
    open(LOG_PATH, "w").close()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if len(sys.argv) > 4:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
