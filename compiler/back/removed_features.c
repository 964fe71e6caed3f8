/* removed_features: see removed_features.h. Like removed_nodes, the previous
 * model.json is the only record of what the cluster had; from it only the
 * three feature names are read, as booleans, so a hand-edited model.json
 * cannot put anything else into the plan. A removed feature is carried
 * forward in every later model.json until the block comes back, so a second
 * build before the apply does not forget it (its removal step is then done by
 * its hash). */
#include "removed_features.h"
#include "previous_build.h"

#include <stdbool.h>
#include <string.h>

static const char *const FEATURES[] = { "gpu", "ceph", "monitoring" };

static bool had(const json_t *prev, const char *name)
{
	if (json_is_true(json_object_get(json_object_get(prev, "features"), name)))
		return true;
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(prev, "removed_features"), i, v) {
		const char *s = json_string_value(json_object_get(v, "name"));
		if (s && !strcmp(s, name))
			return true;
	}
	return false;
}

void removed_features_add(json_t *model, const char *outdir, struct diag *d)
{
	(void)d; /* removed_nodes_add warns once about an unreadable model.json */
	const char *cluster = json_string_value(json_object_get(json_object_get(model, "cluster"), "name"));
	json_t *prev = previous_model_load(outdir, cluster, NULL, NULL);
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
	json_decref(prev);
}
