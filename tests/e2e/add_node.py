#!/usr/bin/env python3
"""tests/e2e/add_node.py SRC DST: writes DST, the cluster file SRC with one
more worker node, as an operator growing the cluster would: a copy of the
last worker (a VM worker when there is one) under a new name, with the next
free address of its subnet and the next free VM id, without a GPU (a GPU
cannot be given to two VMs). Prints the new node's name; exits 3 when the
file has no worker to copy (the caller skips the scenario and says so).

Works on the text, so it needs the node blocks as LANGUAGE.md writes them:
`node NAME {` ... a closing `}` alone on its line."""
import ipaddress
import re
import sys


def blocks(text):
    """(name, start, end) of every top-level node block."""
    out = []
    for m in re.finditer(r"(?m)^node\s+([A-Za-z0-9-]+)\s*\{", text):
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            elif text[i] == "#":
                i = text.find("\n", i)
                if i < 0:
                    break
                continue
            elif text[i] == '"':
                i = text.index('"', i + 1)
            i += 1
        out.append((m.group(1), m.start(), i + 1))
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    text = open(src, encoding="utf-8").read()
    workers = [(n, a, b) for n, a, b in blocks(text)
               if re.search(r"(?m)^\s*role\s*=\s*worker\b", text[a:b])]
    if not workers:
        return 3
    vm_workers = [w for w in workers if re.search(r"(?m)^\s*vm\s*\{", text[w[1]:w[2]])]
    name, a, b = (vm_workers or workers)[-1]
    block = text[a:b]
    taken = {n for n, _, _ in blocks(text)}
    new = name + "-added" if len(name) <= 32 else "added-1"
    while new in taken:
        new += "x"
    block = re.sub(r"^node\s+[A-Za-z0-9-]+", "node " + new, block, count=1)
    # A one-line gpu { ... } goes; a longer one means the copy cannot be made.
    block, ngpu = re.subn(r"(?m)^\s*gpu\s*\{[^{}\n]*\}\s*\n", "", block)
    if re.search(r"(?m)^\s*gpu\s*\{", block):
        return 3
    if ngpu:
        block = re.sub(r'(?m)^(\s*labels\s*=\s*\{[^}\n]*?)\s*,?\s*compute\s*=\s*"cuda"\s*,?', r"\1", block)
        block = re.sub(r'(?m)^\s*taints\s*=\s*\[[^\]\n]*nvidia[^\]\n]*\]\s*\n', "", block)
    m = re.search(r'(?m)^(\s*ip\s*=\s*"?)(\d+\.\d+\.\d+\.\d+)(?:/(\d+))?', block)
    if m:
        # An address without a prefix length is on the subnet the file's
        # gateway implies; a /24 around it is the safe guess for "free".
        net = ipaddress.ip_network("%s/%s" % (m.group(2), m.group(3) or 24), strict=False)
        used = set(re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", text))
        # Pools and ranges written in the file (a load-balancer pool, a VIP
        # range) are not free either; the node subnet itself is.
        ranges = [ipaddress.ip_network(c, strict=False)
                  for c in re.findall(r"\b\d+\.\d+\.\d+\.\d+/\d+\b", text)]
        ranges = [r for r in ranges if r != net and r.subnet_of(net)]
        free = next(str(h) for h in reversed(list(net.hosts()))
                    if str(h) not in used and not any(h in r for r in ranges))
        block = block[:m.start(2)] + free + block[m.end(2):]
    ids = [int(x) for x in re.findall(r"\bid\s*=\s*(\d+)", text)]
    block = re.sub(r"\bid\s*=\s*\d+", "id = %d" % (max(ids, default=100) + 1), block, count=1)
    out = text[:b] + "\n\n" + block + text[b:]
    open(dst, "w", encoding="utf-8").write(out)
    print(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
