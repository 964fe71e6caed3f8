/* plan_rehash: gives every step of DIR/plan.json the hash the build would
 * (run_plan_step_hash, lib/step_hash.c), for tests that edit a plan by hand.
 *   plan_rehash DIR
 * Exits 0, or 1 with a message when the plan does not load or a file is
 * missing. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "run.h"
#include "strbuf.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: plan_rehash DIR\n", stderr);
		return 2;
	}
	struct run_plan p;
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	int rc = 1;
	if (run_plan_load(&p, argv[1], &err) == 0) {
		json_t *steps = json_object_get(p.root, "steps");
		rc = 0;
		for (size_t i = 0; !rc && i < p.nsteps; i++) {
			struct strbuf h = STRBUF_INIT;
			if (run_plan_step_hash(&p, i, &h, &err) < 0)
				rc = 1;
			else
				json_object_set_new(json_array_get(steps, p.steps[i].index), "hash",
						    json_string(h.buf));
			strbuf_release(&h);
		}
		strbuf_addf(&path, "%s/plan.json", argv[1]);
		if (!rc) {
			/* As the build writes it: sorted, indented, a final newline. */
			char *text = json_dumps(p.root, JSON_SORT_KEYS | JSON_INDENT(2));
			FILE *f = fopen(path.buf, "w");
			if (!text || !f || fprintf(f, "%s\n", text) < 0 || fclose(f)) {
				strbuf_addf(&err, "%s: cannot write", path.buf);
				rc = 1;
			}
			free(text);
		}
	}
	if (rc)
		fprintf(stderr, "plan_rehash: %s\n", err.buf);
	run_plan_release(&p);
	strbuf_release(&err);
	strbuf_release(&path);
	return rc;
}
