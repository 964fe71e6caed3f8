#!/usr/bin/env python3
"""tests/lab/kube_model.py: the API objects behind the lab's kubectl and helm shims.

A small model of a Kubernetes API server kept in one JSON file under
/var/lib/clusterc-lab/kube/, so cluster steps meet the checks a real server
makes, not a shim that says yes to everything:

  * a custom resource is refused until a CRD serving its group, version and
    kind is registered ("no matches for kind ... ensure CRDs are installed
    first"), so a step that applies before it waits is caught;
  * get/wait/rollout/delete/patch of a missing object is NotFound; create of
    an existing one is AlreadyExists;
  * objects keep their data: `create --dry-run=client -o yaml` prints what
    kubectl would (Secret values base64-encoded), `apply -f -` stores it,
    `get -o jsonpath={.data.x}` reads it back, `patch --type merge` merges
    (stringData written into data, as the API server does).

What a remote manifest or a chart would create (the lab has no network, so
nothing is fetched) comes from REMOTE below: the CRDs as upstream publishes
them (vendored in ../shared/reference, copied into the lab's shared folder by
lab.sh) and the workloads the steps wait for. Node objects stay in the bash
shim (kubectl), which hands every other verb to this file.

Usage: kube_model.py kubectl ARGS... | kube_model.py helm-installed RELEASE CHART NAMESPACE [VALUES]
"""
import base64
import fcntl
import glob
import ipaddress
import json
import os
import re
import sys

import yaml

# Overridable so tests/lab/run.sh can exercise the model outside a lab host.
STATE = os.environ.get("KUBE_MODEL_STATE", "/var/lib/clusterc-lab/kube")
DB = STATE + "/objects.json"
REMOTE_DIR = os.environ.get("KUBE_MODEL_REMOTE", "/usr/local/lib/clusterc-lab/kube-remote")

# Kinds that live outside namespaces (the rest default to "default").
CLUSTER_SCOPED = {
    "namespace", "node", "customresourcedefinition", "clusterrole", "clusterrolebinding",
    "storageclass", "runtimeclass", "persistentvolume", "priorityclass", "gatewayclass",
    "mutatingwebhookconfiguration", "validatingwebhookconfiguration", "apiservice",
    "ciliumloadbalancerippool", "ciliuml2announcementpolicy", "ciliumclusterwidenetworkpolicy",
    "ciliumnode", "ciliumidentity",
}
# API groups the API server itself serves; any other group needs a CRD.
BUILTIN_GROUPS = {
    "", "apps", "batch", "rbac.authorization.k8s.io", "networking.k8s.io", "storage.k8s.io",
    "node.k8s.io", "policy", "apiextensions.k8s.io", "admissionregistration.k8s.io",
    "scheduling.k8s.io", "coordination.k8s.io", "autoscaling", "discovery.k8s.io",
    "certificates.k8s.io", "apiregistration.k8s.io", "events.k8s.io",
    "flowcontrol.apiserver.k8s.io", "kustomize.config.k8s.io",
}
ALIASES = {
    "ns": "namespace", "cm": "configmap", "sa": "serviceaccount", "deploy": "deployment",
    "ds": "daemonset", "sts": "statefulset", "crd": "customresourcedefinition", "po": "pod",
    "svc": "service", "sc": "storageclass", "app": "application", "no": "node",
}

# CiliumEndpoint's CRD is registered by the Cilium agent at start-up and is not
# vendored in ../shared/reference; group, kind and version from cilium v1.18
# pkg/k8s/apis/cilium.io/v2/types.go (+kubebuilder:resource:...,shortName={cep}).
CILIUM_ENDPOINT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "ciliumendpoints.cilium.io"},
    "spec": {"group": "cilium.io", "scope": "Namespaced",
             "names": {"kind": "CiliumEndpoint", "plural": "ciliumendpoints"},
             "versions": [{"name": "v2", "served": True, "storage": True}]},
}


def workload(kind, name):
    return {"kind": kind, "name": name}


# What applying a remote manifest or installing a chart creates, as far as the
# steps read it back: CRDs (files under REMOTE_DIR) and the workloads the steps
# wait for. Names from the upstream manifests of the pinned versions:
# argo-cd manifests/install.yaml; cilium's chart (install/kubernetes/cilium:
# DaemonSet cilium, Deployment cilium-operator; the operator registers the
# cilium.io CRDs); ceph-csi charts/ceph-csi-cephfs (Deployment
# <release>-provisioner, DaemonSet <release>-nodeplugin).
REMOTE = {
    "argocd-install": {
        "crds": ["argocd/*-crd.yaml"],
        "objects": [workload("deployment", "argocd-server"),
                    workload("deployment", "argocd-repo-server"),
                    workload("deployment", "argocd-redis"),
                    workload("deployment", "argocd-dex-server"),
                    workload("deployment", "argocd-applicationset-controller"),
                    workload("deployment", "argocd-notifications-controller"),
                    workload("statefulset", "argocd-application-controller"),
                    workload("configmap", "argocd-cm"),
                    workload("configmap", "argocd-cmd-params-cm"),
                    workload("configmap", "argocd-rbac-cm"),
                    workload("configmap", "argocd-ssh-known-hosts-cm"),
                    workload("configmap", "argocd-tls-certs-cm"),
                    workload("configmap", "argocd-gpg-keys-cm")],
    },
    "chart:cilium": {
        "crds": ["cilium/*.yaml"], "extra_crds": [CILIUM_ENDPOINT_CRD],
        "objects": [workload("daemonset", "cilium"), workload("deployment", "cilium-operator")],
    },
    "chart:ceph-csi-cephfs": {
        "objects": [workload("deployment", "{release}-provisioner"),
                    workload("daemonset", "{release}-nodeplugin")],
    },
}
REMOTE_URLS = [
    (re.compile(r"^https://raw\.githubusercontent\.com/argoproj/argo-cd/v[0-9.]+/manifests/install\.yaml$"),
     "argocd-install"),
]


class KubeError(Exception):
    pass


def singular(word):
    w = word.lower().split(".")[0]
    w = ALIASES.get(w, w)
    if w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith("sses") or w.endswith("xes"):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


class Model:
    def __init__(self):
        os.makedirs(STATE, exist_ok=True)
        self.lock = open(STATE + "/.lock", "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        try:
            with open(DB, encoding="utf-8") as f:
                self.objs = json.load(f)
        except FileNotFoundError:
            # What kubeadm init leaves: the namespaces every cluster has.
            self.objs = {self.key("namespace", "", n): {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": n}}
                         for n in ("default", "kube-system", "kube-public", "kube-node-lease")}
        self.dirty = False

    def lb_ipam(self):
        """Cilium's LB-IPAM, as far as the steps and `clusterc status` read it: once a
        CiliumLoadBalancerIPPool exists, every Service of type LoadBalancer and every
        Gateway of class cilium without an address gets the lowest free one of the
        pools' CIDR blocks (first and last included: allowFirstLastIPs unset means
        Yes, cilium.io/v2 CiliumLoadBalancerIPPoolSpec). A Gateway's address is
        its Service's (cilium-gateway-NAME) in Cilium; here it is set on the
        Gateway directly, in status.addresses, where the Gateway API puts it."""
        pool = []
        for key, o in sorted(self.objs.items()):
            if o.get("kind") == "CiliumLoadBalancerIPPool" and not o.get("spec", {}).get("disabled"):
                for b in o.get("spec", {}).get("blocks", []):
                    if "cidr" in b:
                        pool += list(ipaddress.ip_network(b["cidr"], strict=False))[:1024]
        if not pool:
            return

        def service_ips(o):
            return [i.get("ip") for i in o.get("status", {}).get("loadBalancer", {}).get("ingress", [])]

        def gateway_ips(o):
            return [a.get("value") for a in o.get("status", {}).get("addresses", [])]

        wanting = []
        used = set()
        for key, o in sorted(self.objs.items()):
            if o.get("kind") == "Service" and o.get("spec", {}).get("type") == "LoadBalancer":
                got = service_ips(o)
            elif o.get("kind") == "Gateway" and o.get("spec", {}).get("gatewayClassName") == "cilium":
                got = gateway_ips(o)
            else:
                continue
            used.update(got)
            if not got:
                wanting.append(o)
        for o in wanting:
            free = next((str(a) for a in pool if str(a) not in used), None)
            if free is None:
                return  # a pool that is full leaves the rest pending, as Cilium does
            used.add(free)
            st = o.setdefault("status", {})
            if o["kind"] == "Service":
                st["loadBalancer"] = {"ingress": [{"ip": free}]}
            else:
                st["addresses"] = [{"type": "IPAddress", "value": free}]
            self.dirty = True

    def save(self):
        self.lb_ipam()
        if self.dirty:
            with open(DB + ".new", "w", encoding="utf-8") as f:
                json.dump(self.objs, f, sort_keys=True, indent=1)
            os.replace(DB + ".new", DB)

    @staticmethod
    def key(kind, ns, name):
        return "%s/%s/%s" % (kind, "" if kind in CLUSTER_SCOPED else ns, name)

    def find(self, kind, ns, name):
        return self.objs.get(self.key(kind, ns, name))

    def crd_for(self, group, version, kind):
        for o in self.objs.values():
            if o.get("kind") != "CustomResourceDefinition":
                continue
            spec = o.get("spec", {})
            if spec.get("group") == group and spec.get("names", {}).get("kind") == kind:
                for v in spec.get("versions", []):
                    if v.get("name") == version and v.get("served", True):
                        return o
        return None

    def store(self, doc, ns):
        """Applies one document; returns kubectl's line for it."""
        api = doc.get("apiVersion", "")
        kind = doc.get("kind", "")
        meta = doc.setdefault("metadata", {})
        name = meta.get("name")
        if not api or not kind or not name:
            raise KubeError("error: error validating data: apiVersion, kind and metadata.name are required")
        group, _, version = api.rpartition("/")
        if group not in BUILTIN_GROUPS and not self.crd_for(group, version, kind):
            raise KubeError('error: resource mapping not found for name: "%s" namespace: "%s" from "-": '
                            'no matches for kind "%s" in version "%s"\nensure CRDs are installed first'
                            % (name, meta.get("namespace", ns), kind, api))
        k = kind.lower()
        if k not in CLUSTER_SCOPED:
            meta["namespace"] = meta.get("namespace") or ns
            if not self.find("namespace", "", meta["namespace"]) and meta["namespace"] != "default":
                raise KubeError('Error from server (NotFound): namespaces "%s" not found' % meta["namespace"])
        if kind == "Secret" and "stringData" in doc:
            data = doc.setdefault("data", {})
            for dk, dv in doc.pop("stringData").items():
                data[dk] = base64.b64encode(str(dv).encode()).decode()
        key = self.key(k, meta.get("namespace", ""), name)
        old = self.objs.get(key)
        if old and "status" in old and "status" not in doc:
            # status is a subresource: applying a manifest does not clear it
            doc["status"] = old["status"]
        self.objs[key] = doc
        self.dirty = True
        word = "unchanged" if old == doc else ("configured" if old else "created")
        return "%s/%s %s" % (k, name, word)

    def install_remote(self, what, ns, release=""):
        spec = REMOTE[what]
        crds = list(spec.get("extra_crds", []))
        for pattern in spec.get("crds", []):
            files = sorted(glob.glob(os.path.join(REMOTE_DIR, pattern)))
            if not files:
                raise KubeError("lab: no CRDs for %s under %s/%s (lab.sh copies them from "
                                "shared/reference)" % (what, REMOTE_DIR, pattern))
            for path in files:
                with open(path, encoding="utf-8") as f:
                    crds += [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "CustomResourceDefinition"]
        lines = [self.store(json.loads(json.dumps(c)), "") for c in crds]
        for o in spec.get("objects", []):
            kind = o["kind"]
            doc = {"apiVersion": "apps/v1" if kind in ("deployment", "daemonset", "statefulset") else "v1",
                   "kind": {"deployment": "Deployment", "daemonset": "DaemonSet", "statefulset": "StatefulSet",
                            "configmap": "ConfigMap"}[kind],
                   "metadata": {"name": o["name"].format(release=release), "namespace": ns}}
            if kind == "configmap":
                old = self.find("configmap", ns, doc["metadata"]["name"])
                if old:  # a re-apply keeps what steps added to upstream's ConfigMaps
                    continue
            lines.append(self.store(doc, ns))
        return lines


# ---- YAML sources: files, directories, stdin, kustomizations

def load_docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def kustomize(path):
    kfile = next((os.path.join(path, n) for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")
                  if os.path.isfile(os.path.join(path, n))), None)
    if not kfile:
        raise KubeError("error: unable to find one of 'kustomization.yaml', 'kustomization.yml' or "
                        "'Kustomization' in directory '%s'" % os.path.abspath(path))
    with open(kfile, encoding="utf-8") as f:
        k = yaml.safe_load(f) or {}
    docs = []
    for r in k.get("resources", []):
        p = os.path.join(path, r)
        if re.match(r"^(https?|git)://|^github\.com/", r):
            raise KubeError("lab: remote kustomize resource %s: the lab has no network" % r)
        if os.path.isdir(p):
            docs += kustomize(p)
        elif os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                docs += load_docs(f.read())
        else:
            raise KubeError("error: accumulating resources: '%s' doesn't exist" % os.path.abspath(p))
    for gen, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for g in k.get(gen, []):
            docs.append({"apiVersion": "v1", "kind": kind, "metadata": {"name": g["name"]}, "data": {}})
    # kustomize's legacy order: namespaces and CRDs before what lives in them.
    first = {"Namespace": 0, "CustomResourceDefinition": 1}
    docs.sort(key=lambda d: first.get(d.get("kind"), 2))
    if k.get("namespace"):
        for d in docs:
            if d.get("kind", "").lower() not in CLUSTER_SCOPED:
                d.setdefault("metadata", {})["namespace"] = k["namespace"]
    return docs


# ---- output

def jsonpath(obj, template):
    """The subset of kubectl's JSONPath the steps use: {.a.b\\.c}, {.a[*].b}, {range X[*]}..{end}, {"\\n"}."""
    tokens = re.findall(r'\{([^{}]*)\}|([^{}]+)', template)

    def field(o, path):
        if path in ("", "."):
            return o
        parts = re.findall(r'(?:\\\.|[^.])+', path.lstrip("."))
        for n, p in enumerate(parts):
            p = p.replace("\\.", ".")
            star = p.endswith("[*]")
            p = p[:-3] if star else p
            o = o.get(p) if isinstance(o, dict) else None
            if o is None:
                return None
            if star and isinstance(o, list) and n + 1 < len(parts):
                # X[*].y: every item's y, space-separated as kubectl prints them
                rest = "." + ".".join(parts[n + 1:])
                got = [field(item, rest) for item in o]
                return " ".join(str(g) for g in got if g is not None)
        return o

    def render(o, toks):
        out, i = [], 0
        while i < len(toks):
            expr, lit = toks[i]
            if lit:
                out.append(lit)
            elif expr.startswith("range "):
                depth, j = 1, i + 1
                while j < len(toks):
                    if toks[j][0].startswith("range "):
                        depth += 1
                    elif toks[j][0] == "end":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                for item in field(o, expr[6:].strip()) or []:
                    out.append(render(item, toks[i + 1:j]))
                i = j
            elif expr.startswith('"'):
                out.append(json.loads(expr))
            else:
                v = field(o, expr)
                if isinstance(v, (dict, list)):
                    out.append(json.dumps(v))
                elif isinstance(v, bool):
                    out.append("true" if v else "false")
                elif v is not None:
                    out.append(str(v))
            i += 1
        return "".join(out)

    return render(obj, tokens)


def emit(objs, fmt, single):
    if fmt.startswith("jsonpath="):
        t = fmt[len("jsonpath="):].strip("'")
        target = objs[0] if single else {"apiVersion": "v1", "kind": "List", "items": objs}
        sys.stdout.write(jsonpath(target, t))
    elif fmt == "name":
        for o in objs:
            print("%s/%s" % (o["kind"].lower(), o["metadata"]["name"]))
    elif fmt in ("json", "yaml"):
        target = objs[0] if single else {"apiVersion": "v1", "kind": "List", "items": objs}
        if fmt == "json":
            print(json.dumps(target, indent=4))
        else:
            sys.stdout.write(yaml.safe_dump(target, sort_keys=False))
    elif objs:
        print("NAME   AGE")
        for o in objs:
            print("%s   1m" % o["metadata"]["name"])


def label_matches(obj, selector):
    labels = obj.get("metadata", {}).get("labels", {}) or {}
    for term in filter(None, selector.split(",")):
        if "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=!")) != v:
                return False
        elif term not in labels:
            return False
    return True


# ---- kubectl

def parse(argv):
    opt = {"n": "default", "o": "", "f": [], "k": [], "l": "", "lit": [], "file": [], "p": "",
           "dry": False, "all_ns": False, "ignore_nf": False, "local": False, "type": ""}
    pos, i = [], 0
    takes = {"-n": "n", "--namespace": "n", "-o": "o", "--output": "o", "-l": "l", "--selector": "l",
             "-p": "p", "--patch": "p", "--type": "type", "-f": "f", "--filename": "f", "-k": "k",
             "--kustomize": "k", "--from-literal": "lit", "--from-file": "file"}
    skip = {"--field-manager", "--timeout", "--for", "--kubeconfig", "--context", "--cascade"}
    while i < len(argv):
        a = argv[i]
        name, eq, val = a.partition("=")
        if name in takes:
            if not eq:
                i += 1
                val = argv[i] if i < len(argv) else ""
            slot = takes[name]
            if isinstance(opt[slot], list):
                opt[slot].append(val)
            else:
                opt[slot] = val
        elif name in skip:
            if not eq:
                i += 1
        elif a.startswith("-o") and len(a) > 2:
            opt["o"] = a[2:]
        elif name == "--dry-run":
            opt["dry"] = True
        elif a in ("-A", "--all-namespaces"):
            opt["all_ns"] = True
        elif name == "--ignore-not-found":
            opt["ignore_nf"] = val != "false"
        elif a == "--local":
            opt["local"] = True
        elif a.startswith("-"):
            pass
        else:
            pos.append(a)
        i += 1
    return pos, opt


def read_source(path):
    if path == "-":
        return load_docs(sys.stdin.read())
    for rx, what in REMOTE_URLS:
        if rx.match(path):
            return what
    if re.match(r"^https?://", path):
        raise KubeError("lab: %s: the lab has no network and no copy of that manifest "
                        "(tests/lab/kube_model.py REMOTE)" % path)
    if os.path.isdir(path):
        docs = []
        for p in sorted(glob.glob(path + "/*.yaml") + glob.glob(path + "/*.yml") + glob.glob(path + "/*.json")):
            with open(p, encoding="utf-8") as f:
                docs += load_docs(f.read())
        return docs
    if not os.path.isfile(path):
        raise KubeError('error: the path "%s" does not exist' % path)
    with open(path, encoding="utf-8") as f:
        return load_docs(f.read())


def created_doc(pos, opt):
    kind = singular(pos[1])
    sub = pos[2] if kind == "secret" else None
    name = pos[3] if kind == "secret" else pos[2]
    if kind == "secret" and sub not in ("generic", "tls", "docker-registry"):
        raise KubeError("error: unknown secret type %s" % sub)
    KINDS = {"namespace": "Namespace", "configmap": "ConfigMap", "secret": "Secret",
             "serviceaccount": "ServiceAccount"}
    if kind not in KINDS:
        raise KubeError("lab: kubectl create %s is not modelled" % pos[1])
    doc = {"apiVersion": "v1", "kind": KINDS[kind], "metadata": {"name": name}}
    if kind not in CLUSTER_SCOPED:
        doc["metadata"]["namespace"] = opt["n"]
    data = {}
    for lit in opt["lit"]:
        k, _, v = lit.partition("=")
        data[k] = v
    for spec in opt["file"]:
        k, eq, p = spec.partition("=")
        if not eq:
            k, p = os.path.basename(spec), spec
        with open(p, encoding="utf-8") as f:
            data[k] = f.read()
    if kind == "secret":
        doc["type"] = opt["type"] or "Opaque"
        doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    elif kind == "configmap":
        doc["data"] = data
    return doc


def merge_patch(target, patch):
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            merge_patch(target[k], v)
        else:
            target[k] = v


def kubectl(argv):
    pos, opt = parse(argv)
    verb = pos[0] if pos else ""
    rc = 0
    try:
        # Inputs are read before the model is locked: in `create --dry-run |
        # label --local | apply -f -` the reader would otherwise wait on a writer
        # that waits on the lock.
        docs, remotes = [], []
        if verb in ("apply", "replace", "diff") or (verb == "label" and opt["local"]):
            for src in opt["f"]:
                got = read_source(src)
                if isinstance(got, str):
                    remotes.append(got)
                else:
                    docs += got
            for d in opt["k"]:
                docs += kustomize(d)
        if verb == "create" and opt["dry"]:
            sys.stdout.write(yaml.safe_dump(created_doc(pos, opt), sort_keys=False))
            return 0
        if verb == "label" and opt["local"]:
            for d in docs:
                labels = d.setdefault("metadata", {}).setdefault("labels", {})
                for kv in pos[1:]:
                    k, _, v = kv.partition("=")
                    labels[k] = v
            out = docs[0] if len(docs) == 1 else {"apiVersion": "v1", "kind": "List", "items": docs}
            sys.stdout.write(yaml.safe_dump(out, sort_keys=False))
            return 0
        m = Model()
        if verb == "create":
            doc = created_doc(pos, opt)
            kind = doc["kind"].lower()
            if m.find(kind, opt["n"], doc["metadata"]["name"]):
                raise KubeError('Error from server (AlreadyExists): %ss "%s" already exists'
                                % (kind, doc["metadata"]["name"]))
            m.store(doc, opt["n"])
            print("%s/%s created" % (kind, doc["metadata"]["name"]))
        elif verb in ("apply", "replace"):
            lines = []
            for what in remotes:
                lines += m.install_remote(what, opt["n"])
            for d in docs:
                lines.append(m.store(d, opt["n"]))
            print("\n".join(lines))
        elif verb == "diff":
            # What apply would change, stored nowhere: kubectl diff's exit status (1:
            # something differs) and one "diff -u -N LIVE MERGED" header per object.
            lines = []
            for what in remotes:
                lines += m.install_remote(what, opt["n"])
            for d in docs:
                lines.append(m.store(d, opt["n"]))
            m.dirty = False
            changed = [ln.split(" ")[0].replace("/", ".") for ln in lines if not ln.endswith(" unchanged")]
            for c in changed:
                print("diff -u -N /tmp/LIVE-lab/%s /tmp/MERGED-lab/%s" % (c, c))
            rc = 1 if changed else 0
        elif verb == "kustomize":
            sys.stdout.write(yaml.safe_dump_all(kustomize(pos[1] if len(pos) > 1 else "."), sort_keys=False))
        elif verb in ("get", "delete", "patch", "wait", "rollout"):
            args = pos[1:]
            if verb == "rollout":
                args = args[1:]  # status
            if not args:
                raise KubeError("error: You must specify the type of resource to %s" % verb)
            if "/" in args[0]:
                kind_word, name = args[0].split("/", 1)
            else:
                kind_word, name = args[0], (args[1] if len(args) > 1 else "")
            kind = singular(kind_word)
            if name:
                o = m.find(kind, opt["n"], name)
                if o is None:
                    if verb in ("get", "delete") and opt["ignore_nf"]:
                        return 0
                    raise KubeError('Error from server (NotFound): %s "%s" not found' % (kind_word, name))
                found = [o]
            else:
                found = [o for key, o in sorted(m.objs.items())
                         if key.split("/")[0] == kind and (opt["all_ns"] or kind in CLUSTER_SCOPED
                                                          or key.split("/")[1] == opt["n"])
                         and label_matches(o, opt["l"])]
            if verb == "get":
                emit(found, opt["o"], bool(name))
            elif verb == "delete":
                for o in found:
                    del m.objs[m.key(kind, o["metadata"].get("namespace", ""), o["metadata"]["name"])]
                    m.dirty = True
                    print('%s "%s" deleted' % (kind, o["metadata"]["name"]))
            elif verb == "patch":
                o = found[0]
                merge_patch(o, json.loads(opt["p"]))
                m.store(o, opt["n"])
                print("%s/%s patched" % (kind, name))
            elif verb == "wait":
                if kind == "pod" and not name:
                    print("pod condition met (pods are not modelled)")
                for o in found:
                    print("%s/%s condition met" % (kind, o["metadata"]["name"]))
            else:
                print('%s "%s" successfully rolled out' % (kind, name))
        # other verbs (version, cluster-info, config, scale, ...) are answered by the bash shim
        m.save()
    except KubeError as e:
        print(e, file=sys.stderr)
        rc = 1
    except (OSError, yaml.YAMLError, json.JSONDecodeError, IndexError) as e:
        print("error: %s" % e, file=sys.stderr)
        rc = 1
    return rc


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "kubectl":
        return kubectl(sys.argv[2:])
    if len(sys.argv) in (5, 6) and sys.argv[1] == "helm-installed":
        release, chart, ns = sys.argv[2:5]
        values = {}
        if len(sys.argv) == 6:
            with open(sys.argv[5], encoding="utf-8") as f:
                values = yaml.safe_load(f) or {}
        m = Model()
        if not m.find("namespace", "", ns) and ns != "default":
            m.store({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, "")
        what = "chart:" + chart.split("/")[-1]
        if what in REMOTE:
            m.install_remote(what, ns, release)
        ingress = values.get("ingressController") or {}
        if what == "chart:cilium" and ingress.get("enabled") and ingress.get("loadbalancerMode") == "shared":
            # The chart's shared Ingress load balancer: Service cilium-ingress, type
            # LoadBalancer, in Cilium's namespace (templates/cilium-ingress-service.yaml).
            m.store({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": "cilium-ingress", "namespace": ns},
                     "spec": {"type": "LoadBalancer",
                              "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}}, ns)
        m.save()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
