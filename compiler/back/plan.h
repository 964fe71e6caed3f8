/* plan: component manifests -> rendered files (render.c) and the step graph
 * (step_graph.c, plan.json); plan.c drives both.
 *
 * plan_build reads every stdlib manifest (components/NAME.json) in name order (through
 * stdlib_read, so --stdlib DIR applies), evaluates each component's, file's
 * and step's `when` and `each` against the model, renders every file and
 * step script into out (scripts and *.sh files mode 0755, others 0644),
 * resolves step `after` references, orders the steps topologically, hashes
 * them and adds plan.json (format 1, compiler/README.md) to out.
 *
 * Decisions the contract leaves open:
 * - Phase order comes from model "phases" when it is a list of strings, else
 *   infra, os, kubernetes, network, storage, gpu, gitops, apps; a manifest
 *   naming another phase is an error. Steps are ordered by (phase, manifest
 *   file name, position in the manifest, each order) wherever `after` allows:
 *   the smallest such topological order.
 * - A step's host: "local" for on=local, cluster_host for on=cluster, and for
 *   on=node the "name" of the value its `each` binds (on=node needs `each`).
 *   Two steps with the same id (name@host) are an error.
 * - `after`: NAME (same host), NAME@all, NAME@cluster, NAME@first_control,
 *   NAME@local, or NAME@HOST for a host name. A reference to a step that does
 *   not exist where it points (its `when` was false) is dropped; a NAME that
 *   no manifest defines is an error. The resolved list is sorted by id.
 * - Step `files` entries and `out` are templates (path context: inserted
 *   values must be safe file names). The step's plan.json `files` list is its
 *   script (or args file) first, then its `files` entries; each must name a
 *   rendered file, and an entry ending in '/' at least one file under it.
 * - Builtin steps: {"builtin": NAME, "args": TEMPLATE, "out": PATH} renders
 *   the args template to PATH; plan.json gets "builtin" and "args": PATH.
 * - hash: "sha256:" + SHA-256 over the step's plan.json object without
 *   "hash" (sorted keys, compact), then for every file it names (folders
 *   expanded, in path order) its path, NUL, mode in octal, NUL, length in
 *   decimal, NUL, and its bytes.
 * - Defaults: timeout 600 seconds, reboot false, secrets/inputs/outputs [].
 * - hosts: every model node: address = ssh.host, else ip; port, user and key
 *   from the node's ssh, else cluster.ssh (port 22 when neither says).
 *   cluster_host is the first control node (null when there is none; a
 *   cluster step is then an error).
 * - Every rendered .yaml/.yml file and every file whose name ends in
 *   user-data or meta-data is parsed back with libyaml (all documents); a
 *   failure is an error naming the file and its template.
 *
 * Returns 0, or -1 after reporting every problem found to d (out may then
 * hold some files; the caller must not emit it). */
#ifndef CLUSTERC_PLAN_H
#define CLUSTERC_PLAN_H

#include <jansson.h>

#include "diag.h"
#include "fileset.h"

int plan_build(const json_t *model, struct fileset *out, struct diag *d);

#endif
