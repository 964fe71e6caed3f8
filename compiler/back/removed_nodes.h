/* removed_nodes: nodes of the previous build that the file no longer names. */
#ifndef CLUSTERC_REMOVED_NODES_H
#define CLUSTERC_REMOVED_NODES_H

#include <jansson.h>

#include "diag.h"

/* Reads OUTDIR/<cluster>/model.json when it exists and sets model's
 * "removed_nodes" to every node it had (in "nodes" or, carried forward, in
 * "removed_nodes") that model's "nodes" lacks: [{name, role, ip,
 * vm: {proxmox, vmid} | null}] sorted by name. Sets nothing when there are
 * none, so a build into an empty OUTDIR is unchanged. A malformed previous
 * model is ignored with a warning. */
void removed_nodes_add(json_t *model, const char *outdir, struct diag *d);

#endif
