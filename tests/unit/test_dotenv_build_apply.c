/* The same .env files, read by both of their consumers through their own
 * entry points: the resolver (what `clusterc build FILE` gives env() and
 * secret()) and apply's (cmd/apply_env.h, whose file the runner reads with
 * env_file_load: what `clusterc apply FILE` hands a step). Every case the
 * issue names is in the file: a trailing comment, `export`, both quotes,
 * blanks around '=', CRLF line endings and a UTF-8 byte order mark. Both read
 * ".env" and "<stem>.env" with the second winning, and a malformed line fails
 * both, located the same way (file:line:col). */
#include "apply_env.h"
#include "diag.h"
#include "dotenv.h"
#include "resolve.h"
#include "run.h"
#include "strbuf.h"
#include "unit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_dotenv_ba.XXXXXX";

static const char cluster_text[] = "cluster demo {\n  kubernetes = \"1.34\"\n  crio = \"1.34\"\n}\n";

static void write_at(const char *name, const char *text, struct strbuf *path)
{
	strbuf_reset(path);
	strbuf_addf(path, "%s/%s", dir, name);
	FILE *f = fopen(path->buf, "w");
	fputs(text, f);
	fclose(f);
}

static void remove_at(const char *name)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", dir, name);
	unlink(path.buf);
	strbuf_release(&path);
}

/* Resolves the cluster file beside the .env files; returns the error count. */
static size_t build_side(struct unit *u, struct diag *d, const char *cluster)
{
	diag_init(d);
	unit_init(u, d);
	resolve_file(u, cluster);
	return d->errors;
}

/* What a step of `apply FILE` is handed: the file apply_env gives the runner,
 * read by the runner's env_file_load. Returns 0, or -1 with err. */
static int apply_side(json_t *applied, const char *cluster, struct strbuf *err)
{
	struct apply_env e = APPLY_ENV_INIT;
	int rc = apply_env_open(&e, cluster, err);
	if (rc == 0 && e.path)
		rc = env_file_load(applied, e.path, err);
	apply_env_close(&e);
	return rc;
}

/* Both sides agree on every name in names[], and build reads values[]. */
static void check_same(const char *cluster, const char *const *names, const char *const *values, size_t n)
{
	struct strbuf err = STRBUF_INIT;
	struct diag d;
	struct unit u;
	CHECK(build_side(&u, &d, cluster) == 0, "build side reported %zu errors", d.errors);
	json_t *applied = json_object();
	CHECK(apply_side(applied, cluster, &err) == 0, "apply side: %s", err.buf);
	for (size_t i = 0; i < n; i++) {
		unsetenv(names[i]);
		const char *b = unit_getenv(&u, names[i]);
		const char *a = json_string_value(json_object_get(applied, names[i]));
		CHECK(b && a && !strcmp(a, b), "%s: build [%s] apply [%s]", names[i], b ? b : "(unset)",
		      a ? a : "(unset)");
		CHECK(b && !strcmp(b, values[i]), "%s: [%s], want [%s]", names[i], b ? b : "(unset)", values[i]);
	}
	CHECK(json_object_size(applied) == n && u.dotenv.n == n, "apply read %zu names, build %zu, want %zu",
	      json_object_size(applied), u.dotenv.n, n);
	json_decref(applied);
	unit_release(&u);
	diag_release(&d);
	strbuf_release(&err);
}

static void test_same_values(void)
{
	static const char *const names[] = { "PASSWORD", "EXPORTED", "SINGLE", "DOUBLE", "SPACED",
					     "EMPTY", "HASHED", "ESCAPES" };
	static const char *const values[] = { "abc", "yes", "a # b", "say \"hi\"", "spaced value", "",
					      "x#y", "back\\slash\ttab\nline 'q' $HOME" };
	struct strbuf env = STRBUF_INIT, cluster = STRBUF_INIT;
	write_at(".env",
		 "\xef\xbb\xbf# written on Windows\r\n"
		 "PASSWORD=abc # prod box\r\n"
		 "export EXPORTED=yes\r\n"
		 "SINGLE='a # b'\r\n"
		 "DOUBLE=\"say \\\"hi\\\"\"  # quoted\r\n"
		 "SPACED = spaced value\r\n"
		 "EMPTY=\r\n"
		 "HASHED=x#y\r\n"
		 "ESCAPES=\"back\\\\slash\\ttab\\nline 'q' $HOME\"\r\n",
		 &env);
	write_at("demo.cluster", cluster_text, &cluster);
	check_same(cluster.buf, names, values, sizeof(names) / sizeof(*names));
	unlink(env.buf);
	unlink(cluster.buf);
	strbuf_release(&env);
	strbuf_release(&cluster);
}

/* ".env" and "demo.env" both count, the second winning: apply once read only
 * demo.env when it existed, so a name only in .env never reached a step. */
static void test_same_files(void)
{
	static const char *const names[] = { "SHARED", "ONLY_GENERIC", "ONLY_SPECIFIC" };
	static const char *const values[] = { "from demo.env", "generic", "specific" };
	struct strbuf path = STRBUF_INIT, cluster = STRBUF_INIT;
	write_at(".env", "SHARED=from .env\nONLY_GENERIC=generic\n", &path);
	write_at("demo.env", "SHARED='from demo.env'\r\nONLY_SPECIFIC=specific\r\n", &path);
	write_at("demo.cluster", cluster_text, &cluster);
	check_same(cluster.buf, names, values, sizeof(names) / sizeof(*names));
	remove_at(".env");
	static const char *const left[] = { "SHARED", "ONLY_SPECIFIC" };
	static const char *const left_values[] = { "from demo.env", "specific" };
	check_same(cluster.buf, left, left_values, 2);
	remove_at("demo.env");
	struct strbuf err = STRBUF_INIT;
	struct apply_env e = APPLY_ENV_INIT;
	CHECK(apply_env_open(&e, cluster.buf, &err) == 0 && !e.path, "no .env: apply got %s [%s]",
	      e.path ? e.path : "(none)", err.buf);
	apply_env_close(&e);
	unlink(cluster.buf);
	strbuf_release(&err);
	strbuf_release(&path);
	strbuf_release(&cluster);
}

/* The errors of one malformed file, on both sides, as "path:line:col". */
static void check_same_refusal(const char *file, const char *text, unsigned line, unsigned col)
{
	struct strbuf env = STRBUF_INIT, cluster = STRBUF_INIT, err = STRBUF_INIT, want = STRBUF_INIT;
	write_at(file, text, &env);
	write_at("demo.cluster", cluster_text, &cluster);
	struct diag d;
	struct unit u;
	CHECK(build_side(&u, &d, cluster.buf) == 1, "%s: build side: %zu errors, want 1", file, d.errors);
	size_t bline = 0, bcol = 0;
	const char *bfile = "(none)";
	if (d.nentries) {
		diag_linecol(&d, d.entries[0].loc, &bline, &bcol);
		bfile = diag_source(&d, d.entries[0].loc.file)->path;
	}
	CHECK(!strcmp(bfile, env.buf) && bline == line && bcol == col, "build side located at %s:%zu:%zu",
	      bfile, bline, bcol);
	json_t *applied = json_object();
	CHECK(apply_side(applied, cluster.buf, &err) < 0, "%s: apply side accepted a malformed line", file);
	strbuf_addf(&want, "%s:%u:%u: ", env.buf, line, col);
	CHECK(!strncmp(err.buf, want.buf, want.len) && !strchr(err.buf, '\n'), "apply side: [%s], want [%s...]",
	      err.buf, want.buf);
	json_decref(applied);
	unit_release(&u);
	diag_release(&d);
	unlink(env.buf);
	unlink(cluster.buf);
	strbuf_release(&env);
	strbuf_release(&cluster);
	strbuf_release(&err);
	strbuf_release(&want);
}

static void test_same_refusal(void)
{
	check_same_refusal(".env", "GOOD=1\nNAME value\n", 2, 6);
	/* Columns count after the byte order mark; CR is not part of a line. */
	check_same_refusal("demo.env", "\xef\xbb\xbfGOOD=1\r\nexport 1BAD=x\r\n", 2, 8);
	check_same_refusal(".env", "OPEN=\"never closed\r\n", 1, 6);
}

/* dotenv_format, the step between the two readers on the apply side, gives
 * back every value byte for byte. */
static void test_format_roundtrip(void)
{
	static const char *const values[] = { "", "plain", " lead and trail ", "a\"b'c", "\\n is not \n",
					      "tab\there\r", "# not a comment", "ünïcode €", "$VAR ${X}" };
	enum { N = sizeof(values) / sizeof(*values) };
	static char names[N][3];
	struct dotenv_var vars[N];
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "V%zu", i);
		vars[i] = (struct dotenv_var){ names[i], (char *)values[i] };
	}
	const struct dotenv in = { vars, N, N };  /* borrowed strings: not released */
	struct dotenv out = DOTENV_INIT;
	struct strbuf text = STRBUF_INIT;
	dotenv_format(&in, &text);
	CHECK(dotenv_parse(&out, text.buf, text.len, NULL, NULL) == 0, "the formatted text is malformed:\n%s",
	      text.buf);
	CHECK(out.n == in.n, "%zu names back, want %zu", out.n, in.n);
	for (size_t i = 0; i < in.n && i < out.n; i++)
		CHECK(!strcmp(in.vars[i].name, out.vars[i].name) && !strcmp(in.vars[i].value, out.vars[i].value),
		      "%s: [%s] back as [%s]", in.vars[i].name, in.vars[i].value, out.vars[i].value);
	strbuf_release(&text);
	dotenv_release(&out);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	UNIT_TEST(test_same_values);
	UNIT_TEST(test_same_files);
	UNIT_TEST(test_same_refusal);
	UNIT_TEST(test_format_roundtrip);
	rmdir(dir);
	return unit_done();
}
