#!/usr/bin/env python3
"""The simulator's boot hook: "installs" a VM by applying its seed, as the
Proxmox simulator (tests/api/mock_server.py) received it, to the lab host that
plays the VM. Called by the simulator as

    boot_vm.py LAB_DIR VMID NAME CIDATA_ISO

It reads user-data from the uploaded cidata ISO (xorriso, as the installer's
NoCloud datasource reads the volume labelled cidata) and does what the
installed system would do with it: the hostname, the users with their
authorized keys, the late-commands (inside the target, which here is the host
itself) and cloud-init's runcmd (which writes the marker proxmox.hostkey waits
for). Nothing is shortcut: a seed without the operator's key, a broken sudoers
line or a missing marker makes the runner fail exactly as on a real VM.

Prints the guest as the agent endpoints serve it: its files are the lab host's
own (its overlay upper dir), with the OpenSSH host key at the path the lab's
sshd uses. Exit status non-zero (message on stderr) when the seed is unusable.
"""
import json
import os
import subprocess
import sys
import tempfile

import yaml

LAB_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab", "lab.sh")


def die(msg):
    print("boot_vm: " + msg, file=sys.stderr)
    sys.exit(1)


def run_in_host(lab, host, argv, stdin=None):
    return subprocess.run(["bash", LAB_SH, "exec", os.path.join(lab, host), "--"] + argv,
                          input=stdin, capture_output=True, text=True)


def in_host(lab, host, argv, stdin=None):
    proc = run_in_host(lab, host, argv, stdin)
    if proc.returncode != 0:
        die("%s: %s failed (exit %d): %s" % (host, " ".join(argv), proc.returncode,
                                             proc.stderr.strip()[-500:]))
    return proc.stdout


def read_seed(iso, tmp):
    out = os.path.join(tmp, "user-data")
    proc = subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/user-data", out],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(out):
        die("no /user-data on the cidata volume %s: %s" % (iso, proc.stderr.strip()[-500:]))
    with open(out, encoding="utf-8") as f:
        text = f.read()
    if not text.startswith("#cloud-config"):
        die("user-data does not start with #cloud-config (cloud-init would ignore it)")
    return yaml.safe_load(text)


def command_argv(cmd):
    """A cloud-config command: a list is an argv, a string runs under sh."""
    if isinstance(cmd, list):
        return [str(c) for c in cmd]
    return ["sh", "-c", str(cmd)]


def apply_network(lab, name, network):
    """The installer applies the autoinstall `network:` (netplan v2) and hands it to
    the installed system, where cloud-init renders /etc/netplan/50-cloud-init.yaml
    at first boot. Here: the same file, and the addresses on the lab host's uplink
    (eth0 in its namespace; the VM's would match `en*`). Routes are written to the
    file but not installed: the lab has no gateway, and no packet may leave it."""
    if not isinstance(network, dict) or network.get("version") != 2:
        die("the autoinstall has no netplan version 2 `network:` section")
    eths = network.get("ethernets") or {}
    if len(eths) != 1:
        die("expected one ethernet in the autoinstall network, found %d" % len(eths))
    (_, eth), = eths.items()
    addrs = eth.get("addresses") or []
    if not addrs:
        die("the autoinstall network gives the uplink no static address")
    in_host(lab, name, ["sh", "-c", "umask 077 && mkdir -p /etc/netplan && cat > /etc/netplan/50-cloud-init.yaml"],
            stdin=yaml.safe_dump({"network": network}, sort_keys=False))
    for a in addrs:
        in_host(lab, name, ["ip", "addr", "replace", str(a), "dev", "eth0"])


def main():
    if len(sys.argv) != 5:
        die("usage: boot_vm.py LAB_DIR VMID NAME CIDATA_ISO")
    lab, vmid, name, iso = sys.argv[1:]
    if not os.path.isfile(os.path.join(lab, name, "host.env")):
        die("VM %s '%s' plays no lab host (no %s/%s)" % (vmid, name, lab, name))
    if not iso or not os.path.isfile(iso):
        die("VM %s '%s' has no cidata volume the simulator stored (ide3)" % (vmid, name))
    with tempfile.TemporaryDirectory() as tmp:
        seed = read_seed(iso, tmp)
    ai = (seed or {}).get("autoinstall")
    if not isinstance(ai, dict):
        die("user-data has no autoinstall section")
    ud = ai.get("user-data") or {}
    keys = []
    if ud.get("hostname"):
        # An installed Ubuntu resolves its own name through "127.0.1.1 NAME" in
        # /etc/hosts (written by the installer; cloud-init's manage_etc_hosts is
        # off by default, cc_update_etc_hosts), so sudo does not print "unable
        # to resolve host". Which installer module writes it is not verified here.
        in_host(lab, name, ["sh", "-c", 'printf "%s\\n" "$1" > /etc/hostname && '
                            '{ grep -q "^127.0.1.1[[:space:]]" /etc/hosts || '
                            'printf "127.0.1.1 %s\\n" "$1" >> /etc/hosts; }', "sh", ud["hostname"]])
    for u in ud.get("users") or []:
        if not isinstance(u, dict) or not u.get("name"):
            continue
        have = run_in_host(lab, name, ["id", u["name"]]).returncode == 0
        if not have:
            groups = u.get("groups") or []
            if isinstance(groups, str):
                groups = [g.strip() for g in groups.split(",")]
            present = [g for g in groups if run_in_host(lab, name, ["getent", "group", g]).returncode == 0]
            argv = ["useradd", "-m", "-s", u.get("shell", "/bin/sh")]
            if present:
                argv += ["-G", ",".join(present)]
            in_host(lab, name, argv + [u["name"]])
        # lock_passwd: no password works. Ubuntu's sshd (UsePAM yes) still lets
        # keys in to a locked ("!") account; the lab's sshd runs UsePAM no,
        # where OpenSSH refuses "!" (auth.c allowed_user), so "*": no password
        # either way, keys only.
        in_host(lab, name, ["usermod", "-p", "*", u["name"]])
        keys += u.get("ssh_authorized_keys") or []
    if not keys:
        die("the seed authorizes no SSH key: nobody could log in to the installed system")
    # The lab's sshd reads one AuthorizedKeysFile for every user, as that user
    # (so 0644); the installed system would have ~USER/.ssh/authorized_keys.
    # Either way only the seed's keys get in: the lab's own key is gone.
    in_host(lab, name, ["sh", "-c", "cat > /etc/clusterc-lab/authorized_keys && chmod 0644 /etc/clusterc-lab/authorized_keys"],
            stdin="".join(k + "\n" for k in keys))
    apply_network(lab, name, ai.get("network"))
    prefix = ["curtin", "in-target", "--"]
    for cmd in ai.get("late-commands") or []:
        argv = command_argv(cmd)
        if argv[:3] == prefix:
            in_host(lab, name, argv[3:])
    for cmd in ud.get("runcmd") or []:
        in_host(lab, name, command_argv(cmd))
    print(json.dumps({"root": os.path.join(os.path.abspath(lab), name, "upper"),
                      "alias": {"/etc/ssh/ssh_host_ed25519_key.pub":
                                "/etc/clusterc-lab/ssh_host_ed25519_key.pub"}}))


if __name__ == "__main__":
    main()
