/* builtin_cli: runs one builtin as the runner would, for tests/api.
 *   builtin_cli NAME ARGS.json VALUES.json [OVERRIDES.json]
 * Prints the builtin's log to stderr and its outputs as JSON on stdout;
 * exits with builtin_run's status (2 on usage or unreadable files). */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "builtin.h"
#include "http.h"
#include "strbuf.h"

static json_t *load(const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);
	if (!j)
		fprintf(stderr, "builtin_cli: %s:%d: %s\n", path, err.line, err.text);
	return j;
}

int main(int argc, char **argv)
{
	json_t *args, *values, *overrides = NULL, *outputs;
	struct strbuf log = STRBUF_INIT;
	int rc;
	if (argc < 4 || argc > 5) {
		fputs("usage: builtin_cli NAME ARGS.json VALUES.json [OVERRIDES.json]\n", stderr);
		return 2;
	}
	if (!builtin_exists(argv[1]))
		fprintf(stderr, "builtin_cli: '%s' is not a known builtin\n", argv[1]);
	args = load(argv[2]);
	values = load(argv[3]);
	if (argc == 5)
		overrides = load(argv[4]);
	if (!args || !values || (argc == 5 && !overrides)) {
		json_decref(args);
		json_decref(values);
		json_decref(overrides);
		return 2;
	}
	outputs = json_object();
	rc = builtin_run(argv[1], args, values, overrides, outputs, &log);
	fputs(log.buf, stderr);
	char *o = json_dumps(outputs, JSON_SORT_KEYS | JSON_COMPACT);
	if (o)
		puts(o);
	free(o);
	strbuf_release(&log);
	json_decref(args);
	json_decref(values);
	json_decref(overrides);
	json_decref(outputs);
	http_global_cleanup();
	return rc;
}
