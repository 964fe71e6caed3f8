#!/usr/bin/env python3
"""tests/e2e/upgrade_order.py SEQUENCE_LOG FROM_LINE MODEL_JSON VERSION [HAND_CORDONED]

Checks the commands a Kubernetes upgrade ran across the lab's hosts (the
shims' shared log, "HOST<tab>COMMAND" a line, from line FROM_LINE on) against
kubeadm's documented order (kubernetes.io, "Upgrading kubeadm clusters"):

- the nodes go one after another: the control nodes in the file's order, the
  first one first, then the workers (workers_at_once of them at a time; this
  check wants 1);
- on each node: kubeadm unheld, installed at VERSION, held; then
  `kubeadm upgrade plan` and `kubeadm upgrade apply -y vVERSION` on the first
  control node, `kubeadm upgrade node` on every other; then, from the first
  control node, `kubectl drain NODE`; then kubelet and kubectl unheld,
  installed at VERSION, held, `systemctl daemon-reload`, `systemctl restart
  kubelet`; then `kubectl uncordon NODE` before the next node starts;
- exactly one node is unavailable (drained by the upgrade) at any time;
- HAND_CORDONED, a node the operator cordoned before the upgrade, is drained
  but never uncordoned.
Prints what is wrong and exits 1, or exits 0.
"""
import json
import sys


def main():
    log, start, model_path, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    hand = sys.argv[5] if len(sys.argv) > 5 else ""
    model = json.load(open(model_path, encoding="utf-8"))
    controls = [n["name"] for n in model["controls"]]
    workers = [n["name"] for n in model["workers"]]
    order = controls + workers
    first = controls[0]
    deb = version + "-1.1"
    with open(log, encoding="utf-8") as f:
        lines = [ln.rstrip("\n").split("\t", 1) for ln in f.readlines()[start:]]
    lines = [(h, c) for h, c in ((ln[0], ln[1] if len(ln) > 1 else "") for ln in lines)]
    errors = []

    def find(host, pred, after=-1, what=""):
        for i, (h, c) in enumerate(lines):
            if i > after and h == host and pred(c):
                return i
        errors.append("%s: no %s after line %d" % (host, what, start + after + 1))
        return None

    def seq(host, steps, after):
        """Each (what, predicate) in turn on host; the index of the last."""
        at = after
        for what, pred in steps:
            i = find(host, pred, at, what)
            if i is None:
                return None
            at = i
        return at

    prev_done = -1
    for n in order:
        kubeadm = [
            ("apt-mark unhold kubeadm", lambda c: c == "apt-mark unhold kubeadm"),
            ("apt-get install -y kubeadm=" + deb, lambda c: c == "apt-get install -y kubeadm=" + deb),
            ("apt-mark hold kubeadm", lambda c: c == "apt-mark hold kubeadm"),
        ]
        if n == first:
            kubeadm += [
                ("kubeadm upgrade plan", lambda c: c.startswith("kubeadm upgrade plan")),
                ("kubeadm upgrade apply -y v" + version, lambda c: c == "kubeadm upgrade apply -y v" + version),
            ]
        else:
            kubeadm += [("kubeadm upgrade node", lambda c: c == "kubeadm upgrade node")]
        at = seq(n, kubeadm, prev_done)
        if at is None:
            continue
        at = find(first, lambda c, n=n: c.startswith("kubectl drain " + n + " "), at, "kubectl drain " + n)
        if at is None:
            continue
        kubelet = [
            ("apt-mark unhold kubelet kubectl", lambda c: c == "apt-mark unhold kubelet kubectl"),
            ("apt-get install -y kubelet=%s kubectl=%s" % (deb, deb),
             lambda c: c == "apt-get install -y kubelet=%s kubectl=%s" % (deb, deb)),
            ("apt-mark hold kubelet kubectl", lambda c: c == "apt-mark hold kubelet kubectl"),
            ("systemctl daemon-reload", lambda c: c == "systemctl daemon-reload"),
            ("systemctl restart kubelet", lambda c: c == "systemctl restart kubelet"),
        ]
        at = seq(n, kubelet, at)
        if at is None:
            continue
        if n == hand:
            if any(h == first and c == "kubectl uncordon " + n for h, c in lines):
                errors.append("%s was cordoned by hand, and the upgrade uncordoned it" % n)
            prev_done = at
            continue
        at = find(first, lambda c, n=n: c == "kubectl uncordon " + n, at, "kubectl uncordon " + n)
        if at is not None:
            prev_done = at

    # Unavailable: from the drain to the uncordon (a node cordoned by hand is
    # the operator's, not the upgrade's).
    down, most, drained = set(), 0, []
    for h, c in lines:
        w = c.split()
        if h != first or len(w) < 3 or w[0] != "kubectl":
            continue
        if w[1] == "drain":
            drained.append(w[2])
            if w[2] != hand:
                down.add(w[2])
        elif w[1] == "uncordon":
            down.discard(w[2])
        if len(down) > most:
            most = len(down)
    if most != 1:
        errors.append("at most %d nodes were drained by the upgrade at once, not exactly 1" % most)
    if sorted(drained) != sorted(order):
        errors.append("drained %s, want each of %s once" % (drained, order))
    if down:
        errors.append("still drained after the upgrade: %s" % sorted(down))
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
