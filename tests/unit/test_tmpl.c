/* Unit tests for the template engine (back/tmpl_*.c): expressions, filters, blocks, standalone lines,
 * escaping by context, includes, and errors with their line:column. */
#include "diag.h"
#include "stdlib_data.h"
#include "strbuf.h"
#include "tmpl.h"
#include "unit.h"
#include "unit_diag.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *model_text =
	"{\"cluster\": {\"name\": \"home lab\", \"ha\": false, \"api_port\": 6443,"
	"  \"kubernetes\": \"1.34\", \"domain\": null, \"empty\": \"\","
	"  \"labels\": {\"b\": \"2\", \"a\": \"it's\"}},"
	" \"nodes\": [{\"name\": \"cp1\", \"role\": \"control\", \"ip\": \"10.0.0.1\", \"gpu\": null},"
	"            {\"name\": \"w1\", \"role\": \"worker\", \"ip\": \"10.0.0.2\","
	"             \"gpu\": {\"model\": \"GTX-1060\"}},"
	"            {\"name\": \"w2\", \"role\": \"worker\", \"ip\": \"10.0.0.3\", \"gpu\": null}],"
	" \"ceph\": {\"key\": {\"secret\": \"ceph_key\"}, \"monitors\": [\"a:1\", \"b:2\"]},"
	" \"hostile\": \"$(rm -rf /) `id` 'q' \\\"dq\\\" \\n!*\","
	" \"words\": [\"yes\", \"0755\", \"1.10\", \"plain\"],"
	" \"pi\": 3.5, \"flag\": true, \"zero\": 0, \"list_empty\": [], \"map_empty\": {}}";

static json_t *model;
static struct tmpl_engine *eng;

/* The diagnostics of a failed case, as TAP "# " lines. */
static void print_diags(struct diag *d)
{
	char *buf = diag_text(d);
	unit_diag_lines(buf);
	free(buf);
}

static void render_ok(int line, enum tmpl_ctx ctx, const char *text, const char *want)
{
	struct diag d;
	diag_init(&d);
	struct strbuf out = STRBUF_INIT;
	struct tmpl_scope sc = { .root = model };
	int rc = tmpl_render_text(eng, "t", text, ctx, &sc, &out, &d);
	if (!unit_check(rc == 0 && !strcmp(out.buf, want))) {
		unit_diag("line %d: template [%s]\n  got  [%s] rc=%d\n  want [%s]\n", line,
			text, out.buf, rc, want);
		if (diag_failed(&d))
			print_diags(&d);
	}
	strbuf_release(&out);
	diag_release(&d);
}

/* Expects an error whose message contains msg, at line:col (0 to skip). */
static void render_err(int line, enum tmpl_ctx ctx, const char *text, const char *msg, size_t eline,
		       size_t ecol)
{
	struct diag d;
	diag_init(&d);
	struct strbuf out = STRBUF_INIT;
	struct tmpl_scope sc = { .root = model };
	int rc = tmpl_render_text(eng, "t", text, ctx, &sc, &out, &d);
	const struct diag_entry *e = NULL;
	for (size_t i = 0; i < d.nentries && !e; i++)
		if (d.entries[i].level == DIAG_ERROR)
			e = &d.entries[i];
	size_t l = 0, c = 0;
	if (e)
		diag_linecol(&d, e->loc, &l, &c);
	bool at_spot = !eline || (l == eline && c == ecol);
	if (!unit_check(rc != 0 && e && strstr(e->msg, msg) && at_spot)) {
		unit_diag("line %d: template [%s] rc=%d\n  want error [%s] at %zu:%zu\n",
			line, text, rc, msg, eline, ecol);
		if (e)
			unit_diag("  got [%s] at %zu:%zu\n", e->msg, l, c);
		else
			unit_diag("  output [%s]\n", out.buf);
	}
	strbuf_release(&out);
	diag_release(&d);
}

#define OK(ctx, text, want) render_ok(__LINE__, ctx, text, want)
#define ERR(ctx, text, msg, l, c) render_err(__LINE__, ctx, text, msg, l, c)
#define SH TMPL_CTX_SH
#define YAML TMPL_CTX_YAML
#define JSON TMPL_CTX_JSON
#define TOML TMPL_CTX_TOML
#define NONE TMPL_CTX_NONE
#define PATHC TMPL_CTX_PATH

static void test_insert_and_escape(void)
{
	OK(SH, "plain text\n", "plain text\n");
	OK(SH, "", "");
	OK(SH, "{{ cluster.name }}", "'home lab'");
	OK(SH, "{{cluster.name}}", "'home lab'");
	OK(SH, "x={{ hostile }}", "x='$(rm -rf /) `id` '\\''q'\\'' \"dq\" \n!*'");
	OK(SH, "{{ cluster.api_port }} {{ flag }} {{ pi }}", "6443 true 3.5");
	OK(SH, "{{ nodes.1.name }}", "w1");
	OK(SH, "{{ cluster.empty }}", "''");
	OK(YAML, "name: {{ cluster.name }}\n", "name: \"home lab\"\n");
	OK(YAML, "{{ words }}", "[\"yes\", \"0755\", \"1.10\", \"plain\"]");
	OK(YAML, "- {{ words.0 }}\n- {{ words.1 }}\n- {{ words.2 }}\n- {{ words.3 }}\n",
	   "- \"yes\"\n- \"0755\"\n- \"1.10\"\n- plain\n");
	OK(YAML, "v: {{ cluster.kubernetes }}", "v: \"1.34\"");
	OK(YAML, "p: {{ cluster.api_port }} f: {{ flag }} n: {{ cluster.domain }}",
	   "p: 6443 f: true n: null");
	OK(YAML, "h: {{ hostile }}", "h: \"$(rm -rf /) `id` 'q' \\\"dq\\\" \\n!*\"");
	OK(YAML, "l: {{ cluster.labels }}", "l: {\"a\": \"it's\", \"b\": \"2\"}");
	OK(JSON, "{\"n\": {{ cluster.name }}, \"p\": {{ cluster.api_port }}}",
	   "{\"n\": \"home lab\", \"p\": 6443}");
	OK(JSON, "{{ nodes.0 }}", "{\"gpu\": null, \"ip\": \"10.0.0.1\", \"name\": \"cp1\", \"role\": \"control\"}");
	OK(TOML, "name = {{ cluster.name }}\nports = {{ ceph.monitors }}\nx = {{ pi }}",
	   "name = \"home lab\"\nports = [\"a:1\", \"b:2\"]\nx = 3.5");
	OK(NONE, "{{ cluster.name | raw }}", "home lab");
	OK(NONE, "{{ cluster.name | upper }}", "HOME LAB");
	OK(SH, "{{ hostile | raw }}", "$(rm -rf /) `id` 'q' \"dq\" \n!*");
	OK(YAML, "{{ cluster.name | sh }}", "'home lab'");
	OK(SH, "{{ cluster.name | yaml }}", "\"home lab\"");
	OK(SH, "{{ cluster.name | json }}", "\"home lab\"");
	OK(SH, "{{ cluster.name | toml }}", "\"home lab\"");
	/* A filter after a context filter: the file's escaping applies again. */
	OK(SH, "{{ cluster.name | json | upper }}", "'\"HOME LAB\"'");
	OK(SH, "{{ \"}}\" }}", "'}}'");
	OK(SH, "{{{ cluster.api_port }}}", "{6443}");
	OK(JSON, "{\"a\": {\"b\": {{ zero }}}}", "{\"a\": {\"b\": 0}}");
	OK(PATHC, "nodes/{{ nodes.1.name }}/x.yaml", "nodes/w1/x.yaml");
	OK(SH, "{{ 'single' }} {{ \"a\\\"b\" }} {{ -5 }}", "single 'a\"b' -5");
}

static void test_filters(void)
{
	OK(SH, "{{ cluster.name | b64 }}", "aG9tZSBsYWI=");
	OK(SH, "{{ cluster.domain | default \"example.org\" }}", "example.org");
	OK(SH, "{{ cluster.nothing | default \"x y\" }}", "'x y'");
	OK(SH, "{{ cluster.name | default \"x\" }}", "'home lab'");
	OK(SH, "{{ cluster.nothing | default 7 }}", "7");
	OK(SH, "{{ ceph.monitors | join \",\" }}", "a:1,b:2");
	OK(SH, "{{ ceph.monitors | join \" \" }}", "'a:1 b:2'");
	OK(SH, "{{ cluster.name | upper | lower }}", "'home lab'");
	OK(SH, "{{ nodes | len }} {{ cluster.name | len }} {{ cluster.labels | len }} {{ cluster.domain | len }}",
	   "3 8 2 0");
	OK(SH, "{{ \"héllo\" | len }}", "5");
	OK(NONE, "{{ \"a\\nb\\n\\nc\" | indent 2 | raw }}", "a\n  b\n\n  c");
	OK(SH, "{{ cluster.labels | keys | join \",\" }}", "a,b");
	OK(SH, "{{ cluster.domain | upper | default \"none\" }}", "none");
	OK(SH, "{{ nodes | len >= 2 }}", "true");
	ERR(SH, "{{ cluster.name | shout }}", "unknown filter 'shout'", 1, 19);
	ERR(SH, "{{ cluster.name | jion \",\" }}", "unknown filter 'jion'", 1, 19);
	ERR(SH, "{{ cluster.name | join }}", "filter 'join' needs an argument", 1, 19);
	ERR(SH, "{{ nodes | upper }}", "filter 'upper' does not apply to a list", 1, 4);
	ERR(SH, "{{ cluster.labels | join \",\" }}", "does not apply to a map", 1, 4);
	ERR(SH, "{{ cluster.name | indent \"x\" }}", "indent needs a number", 1, 26);
}

static void test_blocks(void)
{
	OK(SH, "{{#if flag}}yes{{/if}}", "yes");
	OK(SH, "{{#if zero}}yes{{else}}no{{/if}}", "no");
	OK(SH, "{{#if list_empty}}a{{else if map_empty}}b{{else if cluster.empty}}c{{else}}d{{/if}}", "d");
	OK(SH, "{{#if cluster.missing.deep}}a{{else}}b{{/if}}", "b");
	OK(SH, "{{#if not cluster.missing}}a{{/if}}", "a");
	OK(SH, "{{#if cluster.ha or nodes | len > 2}}a{{/if}}", "a");
	OK(SH, "{{#if flag and not cluster.ha}}a{{/if}}", "a");
	OK(SH, "{{#if (flag and cluster.ha) or zero == 0}}a{{/if}}", "a");
	OK(SH, "{{#if cluster.kubernetes == \"1.34\"}}a{{/if}}", "a");
	OK(SH, "{{#if cluster.kubernetes != \"1.34\"}}a{{else}}b{{/if}}", "b");
	OK(SH, "{{#if cluster.api_port > 1024}}a{{/if}}", "a");
	OK(SH, "{{#if \"abc\" < \"abd\"}}a{{/if}}", "a");
	OK(SH, "{{#if pi >= 3}}a{{/if}}", "a");
	OK(SH, "{{#if cluster.missing == null}}a{{/if}}", "a");
	OK(SH, "{{#if cluster.missing > 3}}a{{else}}b{{/if}}", "b");
	OK(SH, "{{#if nodes.1.gpu.model | lower == \"gtx-1060\"}}g{{/if}}", "g");
	OK(SH, "{{#if nodes.0.gpu.model | lower == \"gtx-1060\"}}g{{else}}n{{/if}}", "n");
	OK(SH, "{{#each nodes as n}}{{ n.name }}{{#if not @last}},{{/if}}{{/each}}", "cp1,w1,w2");
	OK(SH, "{{#each nodes as n}}{{ @index }}{{#if @first}}F{{/if}}{{/each}}", "0F12");
	OK(SH, "{{#each nodes as i, n}}{{ i }}={{ n.name }} {{/each}}", "0=cp1 1=w1 2=w2 ");
	OK(SH, "{{#each cluster.labels as k, v}}{{ k }}={{ v }};{{/each}}", "a='it'\\''s';b=2;");
	OK(SH, "{{#each cluster.domain as x}}{{ x }}{{/each}}-", "-");
	OK(SH, "{{#each list_empty as x}}{{ x }}{{/each}}-", "-");
	/* Nesting: an inner each shadows, @index is the innermost loop's. */
	OK(SH, "{{#each nodes as n}}{{#each ceph.monitors as m}}{{ n.name }}{{ @index }}{{/each}}.{{ @index }} {{/each}}",
	   "cp10cp11.0 w10w11.1 w20w21.2 ");
	OK(SH, "{{#each nodes as n}}{{#if n.role == \"worker\"}}{{#each ceph.monitors as n}}{{ n }}{{/each}}{{/if}}{{/each}}",
	   "a:1b:2a:1b:2");
	OK(SH, "{{#each nodes as node}}{{#if node.gpu}}{{ node.name }} has {{ node.gpu.model }}{{/if}}{{/each}}",
	   "w1 has GTX-1060");
	ERR(SH, "{{#each cluster.labels as v}}{{/each}}", "is a map", 1, 9);
	ERR(SH, "{{#each cluster.name as v}}{{/each}}", "cannot repeat over a string", 1, 9);
	ERR(SH, "{{#each cluster.nope as v}}{{/each}}", "'cluster.nope' is not defined", 1, 9);
}

static void test_standalone(void)
{
	OK(SH, "a\n{{#if flag}}\nb\n{{/if}}\nc\n", "a\nb\nc\n");
	OK(SH, "a\n  {{#if zero}}  \nb\n  {{else}}\nB\n  {{/if}}\nc\n", "a\nB\nc\n");
	OK(SH, "{{#each nodes as n}}\n- {{ n.name }}\n{{/each}}\n", "- cp1\n- w1\n- w2\n");
	OK(SH, "a\n{{! a comment }}\nb\n", "a\nb\n");
	OK(SH, "a\n{{! a\nlong\ncomment }}\nb\n", "a\nb\n");
	OK(SH, "a {{! inline }}b\n", "a b\n");
	/* Two tags on one line are not standalone. */
	OK(SH, "{{#if flag}}{{/if}}\nx", "\nx");
	OK(SH, "x {{#if flag}}\ny\n{{/if}} z\n", "x \ny\n z\n");
	OK(SH, "a\r\n{{#if flag}}\r\nb\r\n{{/if}}\r\n", "a\r\nb\r\n");
	OK(SH, "{{#if flag}}\nlast{{/if}}", "last");
	/* An insertion is never standalone. */
	OK(SH, "{{ zero }}\n", "0\n");
}

static void test_errors(void)
{
	ERR(SH, "a\n{{ cluster.nmae }}", "'cluster.nmae' is not defined", 2, 4);
	ERR(SH, "a {{ nodes.7.name }}", "'nodes.7.name' is not defined", 1, 6);
	ERR(SH, "{{ cluster.domain }}", "'cluster.domain' is null", 1, 4);
	ERR(SH, "{{ nodes }}", "is a list, not text", 1, 4);
	ERR(TOML, "{{ cluster.domain }}", "TOML has no null", 1, 4);
	ERR(TOML, "{{ cluster.labels }}", "cannot write a map into TOML", 1, 4);
	ERR(SH, "x\n  {{#if flag}}\n", "'{{#if}}' is never closed", 2, 3);
	ERR(SH, "{{#each nodes as n}}\n{{/if}}", "'{{/if}}' inside the '{{#each}}' opened at line 1", 2, 1);
	ERR(SH, "{{#if a}}{{/each}}", "'{{/each}}' closes the '{{#if}}' opened at line 1", 1, 10);
	ERR(SH, "{{#if a}}{{else}}{{else}}{{/if}}", "after '{{else}}'", 1, 18);
	ERR(SH, "{{/if}}", "without an open block", 1, 1);
	ERR(SH, "x{{else}}", "outside '{{#if}}'", 1, 2);
	ERR(SH, "{{#unless a}}{{/unless}}", "unknown block '#unless'", 1, 3);
	ERR(SH, "abc {{ x", "unclosed '{{'", 1, 5);
	ERR(SH, "{{! never closed", "unclosed comment", 1, 1);
	ERR(SH, "{{ }}", "empty tag", 1, 1);
	ERR(SH, "{{ a b }}", "unexpected 'b' after the expression", 1, 6);
	ERR(SH, "{{ \"abc }}", "unclosed '{{'", 1, 1);
	ERR(SH, "{{ a = b }}", "did you mean '=='", 1, 6);
	ERR(SH, "{{ (a }}", "expected ')'", 1, 6);
	ERR(SH, "{{ a == b == c }}", "comparisons do not chain", 1, 11);
	ERR(SH, "{{ a and }}", "expected a value", 1, 9);
	ERR(SH, "{{ @count }}", "unknown name '@count'", 1, 4);
	ERR(SH, "{{ @index }}", "'@index' outside '{{#each}}'", 1, 4);
	ERR(SH, "{{ a..b }}", "bad path segment", 1, 6);
	ERR(SH, "{{#each nodes}}{{/each}}", "expected '{{#each LIST as NAME}}'", 1, 1);
	ERR(SH, "{{#each nodes as a.b}}{{/each}}", "expected a variable name", 1, 18);
	ERR(SH, "{{#if cluster.name > 3}}{{/if}}", "cannot order a string and a number", 1, 20);
	ERR(NONE, "{{ cluster.name }}", "no escaping is known", 1, 1);
	ERR(PATHC, "n/{{ \"..\" }}", "not a safe file name", 1, 6);
	ERR(PATHC, "n/{{ \"a/b\" }}", "not a safe file name", 1, 6);
	ERR(SH, "{{ \"a\\qb\" }}", "unknown escape", 1, 6);
	/* Error in a line after multi-byte text: columns count bytes. */
	ERR(SH, "line one\nline two {{ nodes.0.nme }}", "is not defined", 2, 13);
	/* The did-you-mean hint. */
	struct diag d;
	diag_init(&d);
	struct strbuf out = STRBUF_INIT;
	struct tmpl_scope sc = { .root = model };
	tmpl_render_text(eng, "t", "{{ nodes.0.nme }}", SH, &sc, &out, &d);
	bool hint = false;
	for (size_t i = 0; i < d.nentries; i++)
		hint = hint || (d.entries[i].level == DIAG_HINT && strstr(d.entries[i].msg, "'name'"));
	CHECK(hint, "expected a did-you-mean hint for nme");
	strbuf_release(&out);
	diag_release(&d);
}

static void test_secrets(void)
{
	ERR(SH, "{{ ceph.key }}", "refusing to write secret 'ceph_key'", 1, 4);
	ERR(YAML, "k: {{ ceph.key }}", "refusing to write secret", 1, 7);
	ERR(JSON, "{{ ceph }}", "refusing to write secret", 1, 4);
	ERR(YAML, "{{ ceph }}", "refusing to write secret", 1, 4);
	ERR(SH, "{{ ceph.key | raw }}", "refusing to write secret", 1, 4);
	ERR(SH, "{{ ceph.key | b64 }}", "refusing to write secret", 1, 4);
	ERR(SH, "{{ ceph.key | json }}", "refusing to write secret", 1, 4);
	ERR(SH, "{{ ceph.key | default \"x\" }}", "refusing to write secret", 1, 4);
	ERR(NONE, "{{ ceph.key | raw }}", "refusing to write secret", 1, 4);
	ERR(SH, "{{#each ceph.key as k, v}}{{ v }}{{/each}}", "cannot repeat over a secret", 1, 9);
	/* Testing for a secret and reading its name are fine. */
	OK(SH, "{{#if ceph.key}}has{{/if}} {{ ceph.key.secret }}", "has ceph_key");
	CHECK(tmpl_is_secret(json_object_get(json_object_get(model, "ceph"), "key")), "is_secret");
	CHECK(!tmpl_is_secret(json_object_get(model, "cluster")), "not secret");
}

static char *tmpdir;

static void write_file(const char *rel, const char *text)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s", tmpdir, rel);
	for (char *s = strchr(p.buf + strlen(tmpdir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p.buf, 0755);
		*s = '/';
	}
	FILE *f = fopen(p.buf, "w");
	fputs(text, f);
	fclose(f);
	strbuf_release(&p);
}

static void file_ok(int line, const char *path, const struct tmpl_binding *vars, size_t nvars,
		    const char *want)
{
	struct diag d;
	diag_init(&d);
	struct strbuf out = STRBUF_INIT;
	struct tmpl_scope sc = { .root = model, .vars = vars, .nvars = nvars };
	int rc = tmpl_render(eng, path, &sc, &out, &d);
	if (!unit_check(rc == 0 && !strcmp(out.buf, want))) {
		unit_diag("line %d: %s rc=%d\n  got  [%s]\n  want [%s]\n", line, path, rc,
			out.buf, want);
		print_diags(&d);
	}
	strbuf_release(&out);
	diag_release(&d);
}

static void file_err(int line, const char *path, const char *msg, const char *where)
{
	struct diag d;
	diag_init(&d);
	struct strbuf out = STRBUF_INIT;
	struct tmpl_scope sc = { .root = model };
	int rc = tmpl_render(eng, path, &sc, &out, &d);
	char *buf = NULL;
	size_t blen = 0;
	FILE *m = open_memstream(&buf, &blen);
	d.color = false;
	diag_print(&d, m);
	fclose(m);
	if (!unit_check(rc != 0 && strstr(buf, msg) && (!where || strstr(buf, where)))) {
		unit_diag("line %d: %s rc=%d want [%s] at [%s], got:\n%s", line, path, rc, msg,
			where ? where : "", buf);
	}
	free(buf);
	strbuf_release(&out);
	diag_release(&d);
}

static void test_files(void)
{
	char tmpl_dir[] = "/tmp/test_tmpl.XXXXXX";
	tmpdir = mkdtemp(tmpl_dir);
	CHECK(tmpdir != NULL, "mkdtemp");
	if (!tmpdir)
		return;
	write_file("templates/lib/prelude.sh", "set -euo pipefail\nN={{ cluster.name }}\n");
	write_file("templates/main.sh",
		   "#!/bin/bash\n{{> templates/lib/prelude.sh }}\necho {{ node.name }}\n");
	write_file("templates/part.yaml", "a: {{ cluster.name }}\nb: 1\n");
	write_file("templates/use.yaml", "top:\n  {{> templates/part.yaml }}\nend: {{ node.ip }}\n");
	write_file("templates/plain.txt", "{{ cluster.kubernetes | raw }}\n");
	write_file("templates/loop-a.sh", "{{> templates/loop-b.sh }}\n");
	write_file("templates/loop-b.sh", "{{> templates/loop-a.sh }}\n");
	write_file("templates/missing-inc.sh", "x\n{{> templates/nope.sh }}\n");
	write_file("templates/broken.sh", "ok\n{{#if flag}}\n");
	write_file("templates/inc-broken.sh", "{{> templates/broken.sh }}\n");
	write_file("templates/inc-undef.sh", "a\n  {{> templates/undef.sh }}\n");
	write_file("templates/undef.sh", "line\n{{ cluster.nope }}\n");
	write_file("templates/node/user-data", "hostname: {{ node.name }}\nv: {{ cluster.kubernetes }}\n");
	write_file("templates/secret.yaml", "x: {{ ceph.key }}\n");
	stdlib_set_dir(tmpdir);

	const json_t *n1 = json_array_get(json_object_get(model, "nodes"), 1);
	struct tmpl_binding vars[] = { { "node", n1 } };
	file_ok(__LINE__, "templates/main.sh", vars, 1,
		"#!/bin/bash\nset -euo pipefail\nN='home lab'\necho w1\n");
	file_ok(__LINE__, "templates/use.yaml", vars, 1,
		"top:\n  a: \"home lab\"\n  b: 1\nend: \"10.0.0.2\"\n");
	file_ok(__LINE__, "templates/plain.txt", NULL, 0, "1.34\n");
	file_ok(__LINE__, "templates/node/user-data", vars, 1, "hostname: w1\nv: \"1.34\"\n");
	/* The same template renders again from the cache, once per node. */
	for (size_t i = 0; i < 3; i++) {
		struct tmpl_binding v2[] = { { "node", json_array_get(json_object_get(model, "nodes"), i) } };
		struct strbuf want = STRBUF_INIT;
		strbuf_addf(&want, "#!/bin/bash\nset -euo pipefail\nN='home lab'\necho %s\n",
			    json_string_value(json_object_get(v2[0].value, "name")));
		file_ok(__LINE__, "templates/main.sh", v2, 1, want.buf);
		strbuf_release(&want);
	}
	file_err(__LINE__, "templates/loop-a.sh", "includes nest more than 16 deep", "loop-");
	file_err(__LINE__, "templates/missing-inc.sh", "no template 'templates/nope.sh'",
		 "missing-inc.sh:2:1");
	file_err(__LINE__, "templates/nope.sh", "no template 'templates/nope.sh'", NULL);
	file_err(__LINE__, "templates/inc-broken.sh", "'{{#if}}' is never closed", "broken.sh:2:1");
	file_err(__LINE__, "templates/inc-broken.sh", "included from here", "inc-broken.sh:1:1");
	file_err(__LINE__, "templates/inc-undef.sh", "'cluster.nope' is not defined", "undef.sh:2:4");
	file_err(__LINE__, "templates/secret.yaml", "refusing to write secret 'ceph_key'",
		 "secret.yaml:1:7");
	/* A broken template is reported again to a new diag. */
	file_err(__LINE__, "templates/broken.sh", "never closed", "broken.sh:2:1");
	file_err(__LINE__, "templates/broken.sh", "never closed", "broken.sh:2:1");

	CHECK(tmpl_ctx_for_path("templates/a.sh") == TMPL_CTX_SH, "ctx sh");
	CHECK(tmpl_ctx_for_path("a.yml") == TMPL_CTX_YAML, "ctx yml");
	CHECK(tmpl_ctx_for_path("x/meta-data") == TMPL_CTX_YAML, "ctx meta-data");
	CHECK(tmpl_ctx_for_path("x.json") == TMPL_CTX_JSON, "ctx json");
	CHECK(tmpl_ctx_for_path("x.toml") == TMPL_CTX_TOML, "ctx toml");
	CHECK(tmpl_ctx_for_path("x.conf") == TMPL_CTX_NONE, "ctx none");
	stdlib_set_dir(NULL);
	struct strbuf rm = STRBUF_INIT;
	strbuf_addf(&rm, "rm -rf '%s'", tmpdir);
	CHECK(system(rm.buf) == 0, "cleanup");
	strbuf_release(&rm);
}

static void test_eval(void)
{
	struct diag d;
	diag_init(&d);
	struct tmpl_scope sc = { .root = model };
	bool b;
	json_t *v;
	CHECK(tmpl_eval_bool(eng, "when", "nodes | len >= 2", &sc, &b, &d) == 0 && b, "eval len");
	CHECK(tmpl_eval_bool(eng, "when", "ceph", &sc, &b, &d) == 0 && b, "eval ceph");
	CHECK(tmpl_eval_bool(eng, "when", "network", &sc, &b, &d) == 0 && !b, "eval missing");
	CHECK(tmpl_eval(eng, "each", "nodes", &sc, &v, &d) == 0 && json_array_size(v) == 3, "eval list");
	json_decref(v);
	CHECK(tmpl_eval(eng, "each", "nope", &sc, &v, &d) == 0 && v == NULL, "eval missing value");
	CHECK(tmpl_eval(eng, "e", "nodes | len", &sc, &v, &d) == 0 && json_integer_value(v) == 3, "len");
	json_decref(v);
	struct tmpl_binding vars[] = { { "node", json_array_get(json_object_get(model, "nodes"), 1) } };
	struct tmpl_scope sc2 = { .root = model, .vars = vars, .nvars = 1 };
	CHECK(tmpl_eval_bool(eng, "when", "node.gpu", &sc2, &b, &d) == 0 && b, "bound var");
	CHECK(tmpl_eval_bool(eng, "when", "node.gpu", &sc, &b, &d) == 0 && !b, "unbound var");
	CHECK(!diag_failed(&d), "no errors so far");
	CHECK(tmpl_eval_bool(eng, "when", "nodes |", &sc, &b, &d) == -1, "bad expr fails");
	CHECK(diag_failed(&d), "bad expr reported");
	diag_release(&d);
}

/* Renders a per-node template for many nodes and reports the time, to show
 * rendering is linear and cheap. */
static void test_scale(void)
{
	json_t *m = json_object();
	json_t *nodes = json_array();
	for (int i = 0; i < 10000; i++) {
		json_t *n = json_object();
		struct strbuf name = STRBUF_INIT;
		strbuf_addf(&name, "node-%d", i);
		json_object_set_new(n, "name", json_string(name.buf));
		json_object_set_new(n, "ip", json_string("10.1.2.3"));
		json_object_set_new(n, "labels", json_pack("{s:s,s:s}", "zone", "a", "gpu", "yes"));
		json_array_append_new(nodes, n);
		strbuf_release(&name);
	}
	json_object_set_new(m, "nodes", nodes);
	json_object_set_new(m, "controls", json_pack("[O,O,O]", json_array_get(nodes, 0),
						     json_array_get(nodes, 1), json_array_get(nodes, 2)));
	json_object_set_new(m, "cluster", json_pack("{s:s}", "name", "big"));
	const char *text =
		"#!/bin/bash\nset -euo pipefail\n"
		"{{#each node.labels as k, v}}\nlabel {{ k }}={{ v }}\n{{/each}}\n"
		"{{#if node.ip == \"10.1.2.3\"}}\nip {{ node.ip }} {{ node.name }} {{ cluster.name }}\n{{/if}}\n"
		"{{#each controls as peer}}peer {{ peer.name }}\n{{/each}}";
	struct diag d;
	diag_init(&d);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t total = 0;
	struct strbuf out = STRBUF_INIT;
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		struct tmpl_binding vars[] = { { "node", json_array_get(nodes, i) } };
		struct tmpl_scope sc = { .root = m, .vars = vars, .nvars = 1 };
		strbuf_reset(&out);
		if (tmpl_render_text(eng, "scale.sh", text, SH, &sc, &out, &d))
			break;
		total += out.len;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(!diag_failed(&d), "scale render failed");
	unit_diag("scale: 10000 per-node renders, %zu bytes in %.1f ms\n", total, ms);
	/* One cluster-wide file that lists every node (an /etc/hosts). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	strbuf_reset(&out);
	struct tmpl_scope all = { .root = m };
	CHECK(tmpl_render_text(eng, "hosts.sh", "{{#each nodes as n}}\n{{ n.ip }} {{ n.name }}\n{{/each}}\n",
			       SH, &all, &out, &d) == 0, "hosts render");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	unit_diag("scale: one 10000-node listing, %zu bytes in %.1f ms\n", out.len, ms);
	strbuf_release(&out);
	diag_release(&d);
	json_decref(m);
}

int main(void)
{
	json_error_t err;
	model = json_loads(model_text, 0, &err);
	if (!model) {
		fprintf(stderr, "bad test model: %s at %d:%d\n", err.text, err.line, err.column);
		return 1;
	}
	eng = tmpl_engine_new();
	UNIT_TEST(test_insert_and_escape);
	UNIT_TEST(test_filters);
	UNIT_TEST(test_blocks);
	UNIT_TEST(test_standalone);
	UNIT_TEST(test_errors);
	UNIT_TEST(test_secrets);
	UNIT_TEST(test_files);
	UNIT_TEST(test_eval);
	UNIT_TEST(test_scale);
	tmpl_engine_free(eng);
	json_decref(model);
	return unit_done();
}
