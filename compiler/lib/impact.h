/* impact: what running a step does to a live cluster, one class per step
 * (the manifests' "impact", in plan.json), least to most disruptive. */
#ifndef CLUSTERC_IMPACT_H
#define CLUSTERC_IMPACT_H

#include <stdbool.h>
#include <stddef.h>

/* none: reads, API calls outside the cluster; files: writes files, packages or
 * Kubernetes objects; restart: restarts a service or pods; reboot: reboots the
 * node; drain: drains the node; replace: replaces the machine; destroy:
 * destroys a machine and its data. */
#define STEP_IMPACTS "none, files, restart, reboot, drain, replace, destroy"
enum impact { IMPACT_NONE, IMPACT_FILES, IMPACT_RESTART, IMPACT_REBOOT, IMPACT_DRAIN,
	      IMPACT_REPLACE, IMPACT_DESTROY, IMPACT_COUNT };

bool step_impact_known(const char *word);
/* The class of word; IMPACT_FILES for NULL or an unknown word (a plan.json
 * written by hand before the field existed). */
enum impact step_impact_of(const char *word);
const char *step_impact_word(enum impact i);
/* "reboot" -> "reboots": for sums such as "2 reboots, 1 drain". */
const char *step_impact_plural(enum impact i);
/* Runs that ask before they start (or want --yes): reboot and worse. */
bool step_impact_disrupts(enum impact i);

#endif
