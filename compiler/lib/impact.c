/* impact: see impact.h. */
#include "impact.h"

#include <string.h>

static const char *const words[IMPACT_COUNT] = { "none",  "files", "restart", "reboot",
						 "drain", "replace", "destroy" };
static const char *const plurals[IMPACT_COUNT] = { "without effect", "writing files", "restarts",
						   "reboots", "drains", "replacements",
						   "destructions" };

bool step_impact_known(const char *word)
{
	for (size_t i = 0; word && i < IMPACT_COUNT; i++)
		if (!strcmp(word, words[i]))
			return true;
	return false;
}

enum impact step_impact_of(const char *word)
{
	for (size_t i = 0; word && i < IMPACT_COUNT; i++)
		if (!strcmp(word, words[i]))
			return (enum impact)i;
	return IMPACT_FILES;
}

const char *step_impact_word(enum impact i)
{
	return i < IMPACT_COUNT ? words[i] : "files";
}

const char *step_impact_plural(enum impact i)
{
	return i < IMPACT_COUNT ? plurals[i] : "writing files";
}

bool step_impact_disrupts(enum impact i)
{
	return i >= IMPACT_REBOOT && i < IMPACT_COUNT;
}
