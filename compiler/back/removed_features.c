/* removed_features: see removed_features.h. Like removed_nodes, the previous
 * model.json is the only record of what the cluster had; from it only the
 * three feature names are read, as booleans, so a hand-edited model.json
 * cannot put anything else into the plan. A removed feature is carried
 * forward in every later model.json until the block comes back, so a second
 * build before the apply does not forget it (its removal step is then done by
 * its hash). */
#include "removed_features.h"
#include "removed_nodes.h"

#include <stdbool.h>

static const char *const FEATURES[] = { "gpu", "ceph", "monitoring" };

static bool had(const json_t *prev, const char *name)
{
	return json_is_true(json_object_get(json_object_get(prev, "features"), name)) ||
	       removed_named_in(json_object_get(prev, "removed_features"), name);
}

void removed_features_add(json_t *model, const json_t *prev)
{
	if (!prev)
		return;
	json_t *arr = json_array();
	const json_t *now = json_object_get(model, "features");
	for (size_t i = 0; i < sizeof(FEATURES) / sizeof(FEATURES[0]); i++)
		if (had(prev, FEATURES[i]) && !json_is_true(json_object_get(now, FEATURES[i])))
			json_array_append_new(arr, json_pack("{s:s}", "name", FEATURES[i]));
	if (json_array_size(arr))
		json_object_set_new(model, "removed_features", arr);
	else
		json_decref(arr);
}
