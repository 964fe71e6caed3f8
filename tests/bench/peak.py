#!/usr/bin/python3
"""tests/bench/peak.py CMD...: runs CMD (through bash -c) once and prints
"exit_status wall_s peak_rss_mib peak_fds peak_procs": the peaks, sampled every
0.1 s, of the sum over CMD's process tree (CMD and its descendants still
attached to it: a daemon that detached, such as a kept ssh master, is not
counted) of resident memory, open descriptors and processes."""
import os
import subprocess
import sys
import time


def tree(root):
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(p))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def sample(pids):
    rss = fds = n = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * page
            fds += len(os.listdir(f"/proc/{p}/fd"))
            n += 1
        except OSError:
            pass
    return rss, fds, n


def main():
    t0 = time.monotonic()
    child = subprocess.Popen(["bash", "-c", " ".join(sys.argv[1:])],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = [0, 0, 0]
    while child.poll() is None:
        s = sample(tree(child.pid))
        peak = [max(a, b) for a, b in zip(peak, s)]
        time.sleep(0.1)
    wall = time.monotonic() - t0
    print(f"{child.returncode} {wall:.2f} {peak[0] / 1048576:.1f} {peak[1]} {peak[2]}")


main()
