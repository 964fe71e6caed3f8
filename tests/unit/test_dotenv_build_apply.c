/* The same .env, read by both of its consumers through their own entry
 * points: the resolver (what `clusterc build` gives env() and secret()) and
 * the runner's env_file_load (what `clusterc apply` hands a step). Every case
 * the issue names is in the file: a trailing comment, `export`, both quotes,
 * blanks around '=', CRLF line endings and a UTF-8 byte order mark. A
 * malformed line must fail both, located the same way. */
#include "diag.h"
#include "resolve.h"
#include "run.h"
#include "strbuf.h"
#include "unit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_dotenv_ba.XXXXXX";

static const char *names[] = { "PASSWORD", "EXPORTED", "SINGLE", "DOUBLE", "SPACED", "EMPTY", "HASHED" };
static const char *values[] = { "abc", "yes", "a # b", "say \"hi\"", "spaced value", "", "x#y" };

static void write_at(const char *name, const char *text, struct strbuf *path)
{
	strbuf_reset(path);
	strbuf_addf(path, "%s/%s", dir, name);
	FILE *f = fopen(path->buf, "w");
	fputs(text, f);
	fclose(f);
}

/* Resolves demo.cluster beside the .env; returns the diagnostics count. */
static size_t build_side(struct unit *u, struct diag *d, const char *cluster)
{
	diag_init(d);
	unit_init(u, d);
	resolve_file(u, cluster);
	return d->errors;
}

static void test_same_values(void)
{
	struct strbuf env = STRBUF_INIT, cluster = STRBUF_INIT, err = STRBUF_INIT;
	write_at(".env",
		 "\xef\xbb\xbf# written on Windows\r\n"
		 "PASSWORD=abc # prod box\r\n"
		 "export EXPORTED=yes\r\n"
		 "SINGLE='a # b'\r\n"
		 "DOUBLE=\"say \\\"hi\\\"\"  # quoted\r\n"
		 "SPACED = spaced value\r\n"
		 "EMPTY=\r\n"
		 "HASHED=x#y\r\n",
		 &env);
	write_at("demo.cluster", "cluster demo {\n  kubernetes = \"1.34\"\n  crio = \"1.34\"\n}\n", &cluster);
	struct diag d;
	struct unit u;
	CHECK(build_side(&u, &d, cluster.buf) == 0, "build side reported errors");
	json_t *applied = json_object();
	CHECK(env_file_load(applied, env.buf, &err) == 0, "apply side: %s", err.buf);
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		unsetenv(names[i]);
		const char *b = unit_getenv(&u, names[i]);
		const char *a = json_string_value(json_object_get(applied, names[i]));
		CHECK(b && a && !strcmp(a, b), "%s: build [%s] apply [%s]", names[i], b ? b : "(unset)",
		      a ? a : "(unset)");
		CHECK(b && !strcmp(b, values[i]), "%s: [%s], want [%s]", names[i], b ? b : "(unset)", values[i]);
	}
	CHECK(json_object_size(applied) == sizeof(names) / sizeof(*names), "apply read %zu names",
	      json_object_size(applied));
	json_decref(applied);
	unit_release(&u);
	diag_release(&d);
	unlink(env.buf);
	unlink(cluster.buf);
	strbuf_release(&env);
	strbuf_release(&cluster);
	strbuf_release(&err);
}

static void test_same_refusal(void)
{
	struct strbuf env = STRBUF_INIT, cluster = STRBUF_INIT, err = STRBUF_INIT;
	write_at(".env", "GOOD=1\nNAME value\n", &env);
	write_at("demo.cluster", "cluster demo {\n  kubernetes = \"1.34\"\n  crio = \"1.34\"\n}\n", &cluster);
	struct diag d;
	struct unit u;
	CHECK(build_side(&u, &d, cluster.buf) == 1, "build side: %zu errors, want 1", d.errors);
	size_t line = 0, col = 0;
	if (d.nentries)
		diag_linecol(&d, d.entries[0].loc, &line, &col);
	CHECK(line == 2 && col == 6, "build side located at %zu:%zu", line, col);
	json_t *applied = json_object();
	CHECK(env_file_load(applied, env.buf, &err) < 0, "apply side accepted a malformed line");
	CHECK(strstr(err.buf, ".env:2:6: expected '='") != NULL, "apply side: %s", err.buf);
	json_decref(applied);
	unit_release(&u);
	diag_release(&d);
	unlink(env.buf);
	unlink(cluster.buf);
	strbuf_release(&env);
	strbuf_release(&cluster);
	strbuf_release(&err);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	UNIT_TEST(test_same_values);
	UNIT_TEST(test_same_refusal);
	rmdir(dir);
	return unit_done();
}
