/* removed_features: the feature blocks (gpu, ceph, monitoring) the previous
 * build of this cluster had and the file no longer has. */
#ifndef CLUSTERC_REMOVED_FEATURES_H
#define CLUSTERC_REMOVED_FEATURES_H

#include <jansson.h>


/* From prev, the previous build's model (NULL when there is none), sets model's
 * "removed_features" to [{name}] for each of gpu, ceph and monitoring that
 * it had switched on (in "features", or carried forward in
 * "removed_features") and model's "features" has off; in that order. Sets
 * nothing when there are none. */
void removed_features_add(json_t *model, const json_t *prev);

#endif
