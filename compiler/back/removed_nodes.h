/* removed_nodes: nodes of the previous build that the file no longer names. */
#ifndef CLUSTERC_REMOVED_NODES_H
#define CLUSTERC_REMOVED_NODES_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"

/* From prev, the previous build's model (NULL when there is none), sets model's
 * "removed_nodes" to every node it had (in "nodes" or, carried forward, in
 * "removed_nodes") that model's "nodes" lacks: [{name, role, ip,
 * vm: {proxmox, vmid} | null}] sorted by name. Sets nothing when there are
 * none, so a build into an empty OUTDIR is unchanged. A malformed previous
 * model is ignored with a warning. */
void removed_nodes_add(json_t *model, const json_t *prev, const char *outdir, struct diag *d);
/* Whether list (an array of objects) has one whose "name" is name. */
bool removed_named_in(const json_t *list, const char *name);

#endif
