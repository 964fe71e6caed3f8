# shellcheck shell=bash
# lb-address.sh: the LoadBalancer address the cluster's web UIs answer on, read
# after an apply for its summary (compiler/run/access.c): `kubectl get` of one
# object (NAMESPACE KIND NAME) with a JSONPath, as root with the admin
# kubeconfig on the first control node. Reads only; changes nothing.
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n "$1" get "$2" "$3" -o "jsonpath=$4"
