/* Unit tests for quote.c: shell words, YAML scalars, JSON and TOML strings,
 * with hostile values. Shell results are checked by running bash and
 * YAML results by parsing them back with libyaml. */
#include "quote.h"
#include "strbuf.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <yaml.h>

static void expect(void (*fn)(struct strbuf *, const char *), const char *in, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	fn(&sb, in);
	CHECK(!strcmp(sb.buf, want), "input [%s]: got [%s] want [%s]", in, sb.buf, want);
	strbuf_release(&sb);
}

/* Runs `printf %s WORD` through bash and checks it prints the input back. */
static void sh_roundtrip(const char *in)
{
	struct strbuf cmd = STRBUF_INIT, q = STRBUF_INIT, out = STRBUF_INIT;
	sq_quote(&q, in);
	strbuf_addstr(&cmd, "printf %s ");
	strbuf_add(&cmd, q.buf, q.len);
	struct strbuf full = STRBUF_INIT;
	strbuf_addstr(&full, "bash -c ");
	sq_quote(&full, cmd.buf);
	FILE *p = popen(full.buf, "r");
	CHECK(p != NULL, "popen");
	if (p) {
		char chunk[256];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
			strbuf_add(&out, chunk, n);
		int st = pclose(p);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bash failed for [%s]", in);
		CHECK(!strcmp(out.buf, in), "bash read [%s] back as [%s] (quoted %s)", in, out.buf,
		      q.buf);
	}
	strbuf_release(&cmd);
	strbuf_release(&q);
	strbuf_release(&out);
	strbuf_release(&full);
}

/* Parses "k: SCALAR\n" and returns the scalar's value and style. */
static int yaml_read(const char *doc, struct strbuf *val, yaml_scalar_style_t *style)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int scalars = 0, ok = 1;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)doc, strlen(doc));
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			ok = 0;
			break;
		}
		if (ev.type == YAML_SCALAR_EVENT && scalars++ == 1) {
			strbuf_add(val, ev.data.scalar.value, ev.data.scalar.length);
			*style = ev.data.scalar.style;
		}
		int end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (end)
			break;
	}
	yaml_parser_delete(&p);
	return ok && scalars == 2;
}

static void yaml_roundtrip(const char *in, int want_plain)
{
	struct strbuf doc = STRBUF_INIT, val = STRBUF_INIT;
	strbuf_addstr(&doc, "k: ");
	yaml_scalar(&doc, in);
	strbuf_addch(&doc, '\n');
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	int ok = yaml_read(doc.buf, &val, &style);
	CHECK(ok, "libyaml refused [%s]", doc.buf);
	if (ok) {
		CHECK(!strcmp(val.buf, in), "[%s] read back as [%s]", in, val.buf);
		int plain = style == YAML_PLAIN_SCALAR_STYLE;
		if (want_plain >= 0)
			CHECK(plain == want_plain, "[%s] plain=%d want %d (%s)", in, plain, want_plain,
			      doc.buf);
	}
	strbuf_release(&doc);
	strbuf_release(&val);
}

static const char *const hostile[] = {
	"", "a b", "it's", "'", "''", "\"", "$(reboot)", "`id`", "${HOME}", "$HOME",
	"a\nb", "line1\nline2\n", "*", "?", "[a-z]", "!", "!!", "~", "~root", "a;b", "a|b",
	"a&b", ">x", "<x", "#c", "a\tb", "\\", "\\n", "héllo wörld", "日本語", "-rf", "--",
	"yes", "no", "0755", "1.10", "1e3", "0x1F", "null", "~/x", "a=b c", "\x01\x1f",
	"\x7f", "end\\", "{a,b}", "a\rb", " lead", "trail ", "%x", "@", "emoji 🙂",
};

static void test_sq(void)
{
	expect(sq_quote, "abc", "abc");
	expect(sq_quote, "a-b_c.d/e:f@g%h+i=j,k", "a-b_c.d/e:f@g%h+i=j,k");
	expect(sq_quote, "", "''");
	expect(sq_quote, "a b", "'a b'");
	expect(sq_quote, "it's", "'it'\\''s'");
	expect(sq_quote, "$(reboot)", "'$(reboot)'");
	expect(sq_quote, "`id`", "'`id`'");
	expect(sq_quote, "!", "'!'");
	expect(sq_quote, "*", "'*'");
	expect(sq_quote, "~", "'~'");
	expect(sq_quote, "a\nb", "'a\nb'");
	expect(sq_quote, "0755", "0755");
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		sh_roundtrip(hostile[i]);
}

static void test_yaml(void)
{
	expect(yaml_scalar, "abc", "abc");
	expect(yaml_scalar, "cilium/cilium", "cilium/cilium");
	expect(yaml_scalar, "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9");
	expect(yaml_scalar, "", "\"\"");
	expect(yaml_scalar, "yes", "\"yes\"");
	expect(yaml_scalar, "No", "\"No\"");
	expect(yaml_scalar, "ON", "\"ON\"");
	expect(yaml_scalar, "y", "\"y\"");
	expect(yaml_scalar, "null", "\"null\"");
	expect(yaml_scalar, "~", "\"~\"");
	expect(yaml_scalar, "0755", "\"0755\"");
	expect(yaml_scalar, "1.10", "\"1.10\"");
	expect(yaml_scalar, "1e3", "\"1e3\"");
	expect(yaml_scalar, "0x1", "\"0x1\"");
	expect(yaml_scalar, "0o7", "\"0o7\"");
	expect(yaml_scalar, "1_000", "\"1_000\"");
	expect(yaml_scalar, ".inf", "\".inf\"");
	expect(yaml_scalar, "-.inf", "\"-.inf\"");
	expect(yaml_scalar, "12:30", "\"12:30\"");
	expect(yaml_scalar, "2001-12-14", "\"2001-12-14\"");
	expect(yaml_scalar, "-x", "\"-x\"");
	expect(yaml_scalar, "key:", "\"key:\"");
	expect(yaml_scalar, "a: b", "\"a: b\"");
	expect(yaml_scalar, "a #b", "\"a #b\"");
	expect(yaml_scalar, "say \"hi\"", "\"say \\\"hi\\\"\"");
	expect(yaml_scalar, "a\\b", "\"a\\\\b\"");
	expect(yaml_scalar, "a\nb\tc", "\"a\\nb\\tc\"");
	expect(yaml_scalar, "\x01", "\"\\u0001\"");
	expect(yaml_scalar, "\x7f", "\"\\u007F\"");
	expect(yaml_scalar, "\xc2\x85", "\"\\u0085\"");
	expect(yaml_scalar, "\xe2\x80\xa8", "\"\\u2028\"");
	expect(yaml_scalar, "h\xc3\xa9", "\"h\xc3\xa9\"");
	expect(yaml_scalar, "\xff", "\"\\uFFFD\"");
	expect(yaml_scalar, "<<", "\"<<\"");
	expect(yaml_scalar, "=", "\"=\"");
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		yaml_roundtrip(hostile[i], -1);
	yaml_roundtrip("plain-word_1.2/x", 1);
	yaml_roundtrip("nginx:1.25", 1);
	yaml_roundtrip("yes", 0);
	yaml_roundtrip("", 0);
	CHECK(!yaml_plain_ok("a", 0), "empty is never plain");
}

static void test_json_toml(void)
{
	expect(json_quote, "", "\"\"");
	expect(json_quote, "a\"b\\c", "\"a\\\"b\\\\c\"");
	expect(json_quote, "a\nb\r\t\b\f", "\"a\\nb\\r\\t\\b\\f\"");
	expect(json_quote, "\x01", "\"\\u0001\"");
	expect(json_quote, "\x7f", "\"\x7f\"");
	expect(json_quote, "日本", "\"日本\"");
	expect(json_quote, "</script>", "\"</script>\"");
	expect(toml_quote, "a\"b", "\"a\\\"b\"");
	expect(toml_quote, "\x7f", "\"\\u007F\"");
	expect(toml_quote, "C:\\dir", "\"C:\\\\dir\"");
	expect(toml_quote, "x\ny", "\"x\\ny\"");
}

int main(void)
{
	UNIT_TEST(test_sq);
	UNIT_TEST(test_yaml);
	UNIT_TEST(test_json_toml);
	return unit_done();
}
