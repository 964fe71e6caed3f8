#!/usr/bin/env python3
"""Checks the Proxmox API requests a simulator log holds (tests/api/mock_server.py,
one JSON line per request with "params") against the official schema subset
(proxmox-api-subset.json, see its _provenance):

    pve_api_check.py SUBSET.json LOG... 

For each /api2/json request: the path matches an endpoint template, the method
exists there, every parameter (path, query and body) is defined for it, the
required ones are present, and each value has its type, range, enum, pattern
and format. Property strings (netN, scsiN, ideN, efidisk0, agent, ...) are
parsed as PVE::JSONSchema::parse_property_string does: every key defined,
the default key, aliases, and each value checked in turn; a named format the
schema gives only as typetext (hostpciN, boot, cpu, ipconfigN) has its keys
and enumerations checked against the typetext. A multipart upload is checked
by its field names (the file part counts as its filename).

Prints one line per fault and a summary; exits 1 on any fault, 2 when no
Proxmox request was found at all (a check that saw nothing proves nothing).
"""
import json
import re
import sys
import urllib.parse

# Named formats, as pve-common, pve-storage and qemu-server register them (the
# schema names them but does not carry their code). Sources: pve-common
# src/PVE/JSONSchema.pm @ f665029e (pve-configid, pve-storage-id via parse_id,
# pve-bridge-id, pve-vmid, pve-node, mac-addr, dns-name, urlencoded);
# pve-storage src/PVE/Storage/Plugin.pm @ 0c56bad8 (pve-volume-id,
# pve-storage-content); qemu-server src/PVE/QemuServer.pm @ e6352be6
# (pve-volume-id-or-qm-path, pve-volume-id-or-absolute-path).
LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
VOLUME_ID = r"[a-z][a-z0-9\-_.]*[a-z0-9]:.+"
FORMATS = {
    "pve-configid": lambda v: re.fullmatch(r"[a-z][a-z0-9_-]+", v, re.I),
    "pve-storage-id": lambda v: len(v) >= 2 and re.fullmatch(r"[a-z][a-z0-9\-_.]*[a-z0-9]", v, re.I),
    "pve-bridge-id": lambda v: re.fullmatch(r"[-_.\w\d]+", v),
    "pve-vmid": lambda v: re.fullmatch(r"[1-9][0-9]{2,8}", v),
    "pve-node": lambda v: re.fullmatch(LABEL, v),
    "mac-addr": lambda v: re.fullmatch(r"[a-f0-9][02468ace](?::[a-f0-9]{2}){5}", v, re.I),
    "dns-name": lambda v: re.fullmatch(r"(%s\.)*%s" % (LABEL, LABEL), v),
    "urlencoded": lambda v: re.fullmatch(r"[-%a-zA-Z0-9_.!~*'()]*", v),
    "pve-volume-id": lambda v: re.fullmatch(VOLUME_ID, v, re.I),
    "pve-volume-id-or-qm-path": lambda v: v in ("none", "cdrom") or v.startswith("/") or re.fullmatch(VOLUME_ID, v, re.I),
    "pve-volume-id-or-absolute-path": lambda v: v.startswith("/") or re.fullmatch(VOLUME_ID, v, re.I),
    "pve-storage-content": lambda v: v in ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"),
}
BOOLEAN = {"1", "0", "on", "off", "yes", "no", "true", "false"}
# The values of the keys a typetext-only format names, where its source gives a
# pattern: qemu-server src/PVE/QemuServer/PCI.pm @ e6352be6 ($PCIRE, case
# sensitive: Proxmox refuses upper-case hex) and src/PVE/QemuServer.pm
# (verify_bootdev: a drive, netN, usbN or hostpciN).
PCIRE = r"(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?"
BOOTDEV = r"(?:ide|sata|scsi|virtio|net|usb|hostpci)\d+"
TYPETEXT_VALUES = {
    ("pve-qm-hostpci", "host"): r"%s(;%s)*" % (PCIRE, PCIRE),
    ("pve-qm-hostpci", "mapping"): r"(?i)[a-z][a-z0-9_-]+",
    ("pve-qm-boot", "order"): r"%s(;%s)*" % (BOOTDEV, BOOTDEV),
}


def perl_regex(p):
    # A qr// pattern arrives stringified as (?^:...) or (?^i:...).
    return re.sub(r"\(\?\^(\w*):", lambda m: "(?%s:" % m.group(1) if m.group(1) else "(?:", p)


def typetext_keys(typetext):
    """{key: enum-or-None}, default key, from a property-string typetext such
    as "[[host=]<HOSTPCIID>] [,pcie=<1|0>] [,x-vga=<1|0>]"."""
    keys, default = {}, None
    for m in re.finditer(r"(\[?)([A-Za-z0-9_-]+)=(\]?)<([^>]*)>", typetext):
        enum = m.group(4).split("|") if re.fullmatch(r"[\w.-]+(\|[\w.-]+)+", m.group(4)) else None
        keys[m.group(2)] = enum
        if m.group(3) == "]":
            default = m.group(2)
    return keys, default


class Checker:
    def __init__(self, subset):
        self.endpoints = []
        for tmpl, methods in subset["endpoints"].items():
            rx = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(tmpl)) + "$")
            self.endpoints.append((tmpl, rx, methods))
        self.faults = []
        self.seen = set()           # (method, template) checked

    def fault(self, where, msg):
        self.faults.append("%s: %s" % (where, msg))

    def prop_for(self, props, name):
        if name in props:
            return props[name]
        m = re.fullmatch(r"([a-z]+)(\d+)", name)
        p = props.get(m.group(1) + "[n]") if m else None
        if p and "n_range" in p and not p["n_range"][0] <= int(m.group(2)) <= p["n_range"][1]:
            return None
        return p

    def value(self, where, schema, v):
        """Checks one value (a string as sent, or a JSON scalar) against schema."""
        t = schema.get("type", "string")
        s = v if isinstance(v, str) else json.dumps(v) if not isinstance(v, bool) else str(int(v))
        if t == "integer":
            if not re.fullmatch(r"[+-]?\d+", s):
                return self.fault(where, "%r is not an integer" % s)
            n = int(s)
            if "minimum" in schema and n < schema["minimum"] or "maximum" in schema and n > schema["maximum"]:
                return self.fault(where, "%d is outside %s - %s" % (n, schema.get("minimum", "-N"), schema.get("maximum", "N")))
        elif t == "number":
            try:
                float(s)
            except ValueError:
                return self.fault(where, "%r is not a number" % s)
        elif t == "boolean":
            if s.lower() not in BOOLEAN:
                return self.fault(where, "%r is not a boolean" % s)
        if "enum" in schema and s not in schema["enum"]:
            return self.fault(where, "%r is not one of %s" % (s, "|".join(schema["enum"])))
        if "maxLength" in schema and len(s) > schema["maxLength"]:
            self.fault(where, "longer than %d characters" % schema["maxLength"])
        if "pattern" in schema and not re.fullmatch(perl_regex(schema["pattern"]), s):
            self.fault(where, "%r does not match the pattern %s" % (s, schema["pattern"]))
        fmt = schema.get("format")
        if isinstance(fmt, dict):
            self.property_string(where, fmt, s)
        elif isinstance(fmt, str):
            self.named_format(where, fmt, schema, s)

    def named_format(self, where, fmt, schema, s):
        base, kind = (fmt.rsplit("-", 1) + [""])[:2] if fmt.endswith(("-list", "-opt")) else (fmt, "")
        items = [x for x in re.split(r"[\0,;\s]+", s) if x] if kind == "list" else [s]
        if kind == "opt" and s == "":
            return
        if base in FORMATS:
            for x in items:
                if not FORMATS[base](x):
                    self.fault(where, "%r is not a valid %s" % (x, base))
        elif "=<" in schema.get("typetext", ""):
            self.typetext_string(where, fmt, schema["typetext"], s)
        else:
            self.fault(where, "format %s is not known to this checker (add it with its source)" % fmt)

    def property_string(self, where, fmt, s):
        """PVE::JSONSchema::parse_property_string, then check_object."""
        res, default = {}, None
        for part in s.split(","):
            if not part.strip():
                continue
            m = re.fullmatch(r"([^=]+)=(.+)", part)
            if m:
                k, v = m.groups()
                sch = fmt.get(k)
                if sch and "alias" in sch:
                    if "keyAlias" in sch:
                        res[sch["keyAlias"]] = k
                    k = sch["alias"]
                    sch = fmt.get(k)
                if not sch:
                    self.fault(where, "invalid key %r in %r" % (k, s))
                    continue
                if k in res:
                    self.fault(where, "duplicate key %r in %r" % (k, s))
                res[k] = v
            elif "=" not in part:
                default = next((k for k, x in fmt.items() if x.get("default_key")), None)
                if not default:
                    self.fault(where, "value %r without key, and the format has no default key" % part)
                elif default in res:
                    self.fault(where, "duplicate key %r in %r" % (default, s))
                else:
                    res[default] = part
            else:
                self.fault(where, "missing key in %r" % part)
        for k, sch in fmt.items():
            if "alias" in sch:
                continue
            if k in res:
                self.value("%s.%s" % (where, k), sch, res[k])
            elif not sch.get("optional"):
                self.fault(where, "%r lacks the required key %r" % (s, k))

    def typetext_string(self, where, fmt, typetext, s):
        keys, default = typetext_keys(typetext)
        seen = set()
        for part in s.split(","):
            k, eq, v = part.partition("=")
            if not eq:
                k, v = default, part
                if not k:
                    self.fault(where, "value %r without key in %r (typetext %s)" % (part, s, typetext))
                    continue
            if k not in keys:
                self.fault(where, "invalid key %r in %r (typetext %s)" % (k, s, typetext))
            elif keys[k] and v not in keys[k] and not (set(keys[k]) == {"1", "0"} and v.lower() in BOOLEAN):
                self.fault(where, "%s=%r is not one of %s" % (k, v, "|".join(keys[k])))
            pattern = TYPETEXT_VALUES.get((fmt, k))
            if pattern and not re.fullmatch(pattern, v):
                self.fault(where, "%s=%r does not match %s's %s" % (k, v, fmt, pattern))
            if k in seen:
                self.fault(where, "duplicate key %r in %r" % (k, s))
            seen.add(k)

    def request(self, n, entry):
        raw = entry["path"]
        if not raw.startswith("/api2/json/"):
            return False
        split = urllib.parse.urlsplit(raw[len("/api2/json"):])
        where = "request %d %s %s" % (n, entry["method"], split.path)
        for tmpl, rx, methods in self.endpoints:
            m = rx.match(split.path)
            if m:
                break
        else:
            self.fault(where, "no endpoint of the schema subset matches the path")
            return True
        info = methods.get(entry["method"])
        if not info:
            self.fault(where, "%s has no method %s (has %s)" % (tmpl, entry["method"], ", ".join(methods)))
            return True
        self.seen.add((entry["method"], tmpl))
        props = info["parameters"].get("properties", {})
        params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        for k, v in (entry.get("params") or {}).items():
            if k in params:
                self.fault(where, "parameter %s given in the path and again in the request" % k)
            params[k] = v
        for k, v in params.items():
            sch = self.prop_for(props, k)
            if sch is None:
                self.fault(where, "parameter %r is not defined for %s %s" % (k, entry["method"], tmpl))
            elif v != "(redacted)":
                self.value("%s: %s" % (where, k), sch, v)
        # A "slow" or "reset" fault logs before the body is read.
        if entry.get("status") not in ("slow", "reset"):
            for k, sch in props.items():
                if not sch.get("optional") and "[n]" not in k and k not in params:
                    self.fault(where, "required parameter %r is missing" % k)
        if tmpl == "/nodes/{node}/qemu" and "boot" in params:
            # Proxmox refuses a boot order naming a device the VM lacks
            # (qemu-server: "no such bootable device").
            order = re.search(r"(?:^|,)order=([^,]+)", params["boot"])
            for dev in order.group(1).split(";") if order else []:
                if dev not in params:
                    self.fault(where, "boot order names %s, which the request does not configure" % dev)
        return True


def main():
    subset = json.load(open(sys.argv[1]))
    checker, n = Checker(subset), 0
    for log in sys.argv[2:]:
        with open(log) as f:
            for line in f:
                if not line.strip():
                    continue
                entry = json.loads(line)
                if checker.request(n + 1, entry):
                    n += 1
    for x in checker.faults:
        print(x)
    print("checked %d Proxmox API requests (%d endpoint methods) against pve-docs %s (%s)" % (
        n, len(checker.seen), subset["_provenance"]["version"].split()[1].strip("()"), subset["_provenance"]["commit"][:12]))
    if checker.faults:
        sys.exit(1)
    if n == 0:
        sys.exit(2)


if __name__ == "__main__":
    main()
