/* Unit tests for lib/dotenv: the .env reader build and apply share. Each case
 * is a line as an editor or a shell user writes it; the malformed ones must
 * be located by line:col and must never echo the value. */
#include "dotenv.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *got(const struct dotenv *env, const char *name)
{
	const char *v = dotenv_get(env, name);
	return v ? v : "(unset)";
}

#define EXPECT(env, name, want) \
	CHECK(!strcmp(got(env, name), want), "%s: got [%s] want [%s]", name, got(env, name), want)

static size_t parse(struct dotenv *env, const char *text)
{
	return dotenv_parse(env, text, strlen(text), NULL, NULL);
}

static void test_forms(void)
{
	struct dotenv env = DOTENV_INIT;
	size_t bad = parse(&env,
			   "# a comment\n"
			   "\n"
			   "   \t\n"
			   "PLAIN=abc\n"
			   "COMMENTED=abc # prod box\n"
			   "HASH_INSIDE=abc#def\n"
			   "export EXPORTED=yes\n"
			   "export\tTABBED=tab\n"
			   "SPACED = spaced value  \n"
			   "EMPTY=\n"
			   "EQUALS=a=b=c\n"
			   "SINGLE='it has # and \\n and $HOME'\n"
			   "DOUBLE=\"say \\\"hi\\\"\\tend\\\\ \\q\"   # trailing comment\n"
			   "QUOTE_IN_SINGLE='a\"b'\n"
			   "DOLLAR=pa$$word\n"
			   "  INDENTED=1\n"
			   "_under_9=ok\n"
			   "exporter=not a keyword\n");
	CHECK(bad == 0, "%zu malformed lines", bad);
	EXPECT(&env, "PLAIN", "abc");
	EXPECT(&env, "COMMENTED", "abc");
	EXPECT(&env, "HASH_INSIDE", "abc#def");
	EXPECT(&env, "EXPORTED", "yes");
	EXPECT(&env, "TABBED", "tab");
	EXPECT(&env, "SPACED", "spaced value");
	EXPECT(&env, "EMPTY", "");
	EXPECT(&env, "EQUALS", "a=b=c");
	EXPECT(&env, "SINGLE", "it has # and \\n and $HOME");
	EXPECT(&env, "DOUBLE", "say \"hi\"\tend\\ \\q");
	EXPECT(&env, "QUOTE_IN_SINGLE", "a\"b");
	EXPECT(&env, "DOLLAR", "pa$$word");
	EXPECT(&env, "INDENTED", "1");
	EXPECT(&env, "_under_9", "ok");
	EXPECT(&env, "exporter", "not a keyword");
	CHECK(env.n == 15, "%zu variables", env.n);
	dotenv_release(&env);
}

static void test_line_endings_and_bom(void)
{
	struct dotenv env = DOTENV_INIT;
	size_t bad = parse(&env, "\xef\xbb\xbf" "FIRST=1\r\nQUOTED=\"q\"\r\n# c\r\nLAST=x # c\r\nNOEOL=z");
	CHECK(bad == 0, "%zu malformed lines", bad);
	EXPECT(&env, "FIRST", "1");
	EXPECT(&env, "QUOTED", "q");
	EXPECT(&env, "LAST", "x");
	EXPECT(&env, "NOEOL", "z");
	dotenv_release(&env);
}

static void test_later_wins(void)
{
	struct dotenv env = DOTENV_INIT;
	parse(&env, "A=1\nB=2\nA=3\n");
	parse(&env, "B=4\n");
	EXPECT(&env, "A", "3");
	EXPECT(&env, "B", "4");
	CHECK(env.n == 2, "%zu variables", env.n);
	dotenv_release(&env);
}

struct seen {
	struct dotenv_error e[8];
	char reason[8][96];
	size_t n;
};

static void collect(void *ctx, const struct dotenv_error *e)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		s->e[s->n] = *e;
		snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s", e->reason);
		s->n++;
	}
}

static void test_errors_located(void)
{
	const char *text = "\xef\xbb\xbf" "OK=1\n"
			   "1BAD=x\n"
			   "NO_EQUALS secretvalue\n"
			   "OPEN=\"secretvalue\n"
			   "OPEN1='secretvalue\r\n"
			   "JUNK=\"secret\" value\n"
			   "=secretvalue\n"
			   "FINE=2\n";
	struct dotenv env = DOTENV_INIT;
	struct seen s = { .n = 0 };
	size_t bad = dotenv_parse(&env, text, strlen(text), collect, &s);
	CHECK(bad == 6 && s.n == 6, "%zu malformed lines, %zu reports", bad, s.n);
	struct { unsigned line, col; const char *reason; } want[] = {
		{ 2, 1, "expected a variable name" },
		{ 3, 11, "expected '=' after the variable name" },
		{ 4, 6, "unterminated double quote" },
		{ 5, 7, "unterminated single quote" },
		{ 6, 15, "unexpected text after the closing quote" },
		{ 7, 1, "expected a variable name" },
	};
	for (size_t i = 0; i < s.n && i < 6; i++) {
		CHECK(s.e[i].line == want[i].line && s.e[i].col == want[i].col,
		      "report %zu at %u:%u, want %u:%u", i, s.e[i].line, s.e[i].col, want[i].line, want[i].col);
		CHECK(!strcmp(s.reason[i], want[i].reason), "report %zu: %s", i, s.reason[i]);
		CHECK(!strstr(s.reason[i], "secret") && !strstr(s.e[i].hint, "secret"),
		      "report %zu shows the value", i);
		CHECK(s.e[i].end > s.e[i].start, "report %zu has an empty span", i);
	}
	/* Offsets count from after the BOM: "1BAD" starts at byte 5. */
	CHECK(s.e[0].start == 5, "first offset %zu", s.e[0].start);
	EXPECT(&env, "OK", "1");
	EXPECT(&env, "FINE", "2");
	dotenv_release(&env);
}

static void test_mask(void)
{
	const char *text = "\xef\xbb\xbf" "A=secret # c\r\n# old: PW=hunter2\n# plain comment\n"
			   "export NO_EQ hunter2\nB = 'x'\n";
	size_t len;
	char *m = dotenv_mask(text, strlen(text), &len);
	const char *want = "A=**********\r\n# old: PW=*******\n# plain comment\n"
			   "export NO_EQ *******\nB = '*'\n";
	CHECK(len == strlen(text) - 3, "length %zu", len);
	CHECK(!strcmp(m, want), "masked:\n%s", m);
	free(m);
}

static void test_load_file(void)
{
	char path[] = "/tmp/test_dotenv.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	const char *text = "GOOD=1\nbad\n";
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
	close(fd);
	struct dotenv env = DOTENV_INIT;
	struct strbuf err = STRBUF_INIT;
	CHECK(dotenv_load_file(&env, path, &err) < 0, "malformed file accepted");
	struct strbuf want = STRBUF_INIT;
	strbuf_addf(&want, "%s:2:4: expected '=' after the variable name", path);
	CHECK(!strncmp(err.buf, want.buf, want.len), "error: %s", err.buf);
	unlink(path);
	strbuf_reset(&err);
	dotenv_release(&env);
	CHECK(dotenv_load_file(&env, path, &err) < 0 && strstr(err.buf, "cannot read env file"),
	      "missing file: %s", err.buf);
	dotenv_release(&env);
	strbuf_release(&err);
	strbuf_release(&want);
}

int main(void)
{
	UNIT_TEST(test_forms);
	UNIT_TEST(test_line_endings_and_bom);
	UNIT_TEST(test_later_wins);
	UNIT_TEST(test_errors_located);
	UNIT_TEST(test_mask);
	UNIT_TEST(test_load_file);
	return unit_done();
}
