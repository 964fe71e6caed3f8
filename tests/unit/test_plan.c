/* Unit tests for fileset.c, plan.c and emit.c. Each plan case writes a tiny
 * stdlib (components and templates) into a temporary folder and points
 * stdlib_set_dir at it, the way --stdlib does. */
#include "diag.h"
#include "emit.h"
#include "fileset.h"
#include "plan.h"
#include "stdlib_data.h"
#include "strbuf.h"
#include "unit.h"
#include "unit_diag.h"
#include "xalloc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *tmproot;

static void rm_rf(const char *path)
{
	struct strbuf cmd = STRBUF_INIT;
	strbuf_addstr(&cmd, "rm -rf '");
	strbuf_addstr(&cmd, path);
	strbuf_addstr(&cmd, "'");
	if (system(cmd.buf) != 0)
		fprintf(stderr, "cleanup of %s failed\n", path);
	strbuf_release(&cmd);
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s", dir, rel);
	for (char *s = strchr(p.buf + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p.buf, 0755);
		*s = '/';
	}
	FILE *f = fopen(p.buf, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	strbuf_release(&p);
}

static char *read_all(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path)) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}


/* ---- fileset ------------------------------------------------------------- */

static void test_fileset(void)
{
	struct fileset fs;
	struct strbuf err = STRBUF_INIT;
	fileset_init(&fs);
	CHECK(fileset_add_copy(&fs, "b/x.sh", "x", 1, 0755, &err) == 0, "add b/x.sh");
	CHECK(fileset_add_copy(&fs, "a.txt", "a", 1, 0644, &err) == 0, "add a.txt");
	CHECK(fileset_add_copy(&fs, "b/sub/y", "yy", 2, 0644, &err) == 0, "add b/sub/y");
	CHECK(fileset_add_copy(&fs, "b-c", "", 0, 0644, &err) == 0, "add b-c");
	strbuf_reset(&err);
	CHECK(fileset_add_copy(&fs, "a.txt", "a", 1, 0644, &err) == -1 && strstr(err.buf, "two files"),
	      "duplicate refused: %s", err.buf);
	strbuf_reset(&err);
	CHECK(fileset_add_copy(&fs, "b/sub", "a", 1, 0644, &err) == -1 &&
	      strstr(err.buf, "both a file and a folder"), "file over folder refused: %s", err.buf);
	strbuf_reset(&err);
	CHECK(fileset_add_copy(&fs, "a.txt/z", "a", 1, 0644, &err) == -1 &&
	      strstr(err.buf, "both a file and a folder"), "folder over file refused: %s", err.buf);
	static const char *const bad[] = { "", "/abs", "a//b", "a/", "../x", "a/../b", "./a", "a/.",
					   "a\nb" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strbuf_reset(&err);
		CHECK(fileset_add_copy(&fs, bad[i], "", 0, 0644, &err) == -1, "bad path '%s' accepted",
		      bad[i]);
	}
	CHECK(fs.n == 4, "4 files, got %zu", fs.n);
	fileset_sort(&fs);
	CHECK(!strcmp(fs.v[0].path, "a.txt") && !strcmp(fs.v[1].path, "b-c") &&
	      !strcmp(fs.v[2].path, "b/sub/y") && !strcmp(fs.v[3].path, "b/x.sh"), "sorted order");
	CHECK(fileset_get(&fs, "b/sub/y") && fileset_get(&fs, "b/sub/y")->len == 2, "get after sort");
	CHECK(!fileset_get(&fs, "b/sub"), "a folder is not a file");
	CHECK(fileset_has_dir(&fs, "b/sub") && fileset_has_dir(&fs, "b") && !fileset_has_dir(&fs, "a.txt"),
	      "has_dir");
	CHECK(fileset_each_prefix(&fs, "b/", NULL, NULL) == 2, "prefix b/");
	CHECK(fileset_each_prefix(&fs, "c/", NULL, NULL) == 0, "prefix c/");
	/* Many files: hashing keeps adds fast and duplicate checks exact. */
	for (int i = 0; i < 20000; i++) {
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "nodes/n%d/steps/s.sh", i);
		if (fileset_add_copy(&fs, p.buf, "x", 1, 0755, &err))
			CHECK(0, "bulk add %s", p.buf);
		strbuf_release(&p);
	}
	CHECK(fileset_add_copy(&fs, "nodes/n777/steps/s.sh", "x", 1, 0755, &err) == -1, "bulk dup");
	fileset_sort(&fs);
	CHECK(fileset_each_prefix(&fs, "nodes/", NULL, NULL) == 20000, "bulk prefix");
	strbuf_release(&err);
	fileset_release(&fs);
}

/* ---- plan ------------------------------------------------------------------ */

static const char *model_text =
	"{\"cluster\": {\"name\": \"lab\", \"ssh\": {\"user\": \"ubuntu\", \"key\": \"~/.ssh/k\", \"port\": 22}},"
	" \"network\": null, \"ceph\": {\"key\": {\"secret\": \"ceph_key\"}},"
	" \"first_control\": {\"name\": \"cp1\"},"
	" \"nodes\": ["
	"  {\"name\": \"cp1\", \"role\": \"control\", \"ip\": \"10.0.0.1\", \"gpu\": null, \"ssh\": {\"host\": null}},"
	"  {\"name\": \"w1\", \"role\": \"worker\", \"ip\": \"10.0.0.2\", \"gpu\": {\"type\": \"x\"},"
	"   \"ssh\": {\"host\": \"w1.example\", \"port\": 2222, \"user\": \"root\"}},"
	"  {\"name\": \"w2\", \"role\": \"worker\", \"ip\": \"10.0.0.3\", \"gpu\": null}]}";

static json_t *model;

/* A stdlib with components spread over phases and files, with each/when and
 * every kind of after reference. */
static void write_base_stdlib(const char *dir)
{
	write_file(dir, "components/a-base.json",
		   "{\"component\": \"base\", \"phase\": \"os\","
		   " \"files\": [{\"template\": \"templates/hosts.yaml\", \"out\": \"cluster/hosts.yaml\"},"
		   "  {\"template\": \"templates/node.yaml\", \"each\": \"nodes as node\","
		   "   \"out\": \"nodes/{{ node.name }}/conf/node.yaml\"}],"
		   " \"steps\": [{\"name\": \"os.base\", \"each\": \"nodes as node\", \"on\": \"node\","
		   "   \"script\": \"templates/base.sh\", \"out\": \"nodes/{{ node.name }}/steps/os.base.sh\","
		   "   \"files\": [\"nodes/{{ node.name }}/conf/\"], \"after\": [\"infra.vm\"], \"timeout\": 900},"
		   "  {\"name\": \"os.gpu\", \"each\": \"nodes as node\", \"when\": \"node.gpu\", \"on\": \"node\","
		   "   \"script\": \"templates/base.sh\", \"out\": \"nodes/{{ node.name }}/steps/os.gpu.sh\","
		   "   \"after\": [\"os.base\"], \"reboot\": true, \"secrets\": [\"{{ ceph.key.secret | raw }}\"]}]}");
	/* Named so it sorts after a-base.json but runs before it: phase infra. */
	write_file(dir, "components/b-infra.json",
		   "{\"component\": \"infra\", \"phase\": \"infra\", \"when\": \"not network\","
		   " \"steps\": [{\"name\": \"infra.iso\", \"on\": \"local\", \"script\": \"templates/local.sh\","
		   "   \"out\": \"local/steps/infra.iso.sh\"},"
		   "  {\"name\": \"infra.vm\", \"each\": \"workers as node\", \"on\": \"node\", \"builtin\": \"proxmox.vm\","
		   "   \"args\": \"templates/vm.json\", \"out\": \"infra/{{ node.name }}/vm.json\","
		   "   \"after\": [\"infra.iso@local\"]}]}");
	write_file(dir, "components/c-kube.json",
		   "{\"component\": \"kube\", \"phase\": \"kubernetes\","
		   " \"steps\": [{\"name\": \"kube.init\", \"on\": \"cluster\", \"script\": \"templates/base.sh\","
		   "   \"out\": \"cluster/steps/kube.init.sh\", \"files\": [\"cluster/hosts.yaml\"],"
		   "   \"after\": [\"os.base@cluster\", \"os.gpu@all\", \"os.missing_when@first_control\"]},"
		   "  {\"name\": \"kube.join\", \"each\": \"workers as node\", \"on\": \"node\","
		   "   \"script\": \"templates/base.sh\", \"out\": \"nodes/{{ node.name }}/steps/kube.join.sh\","
		   "   \"after\": [\"kube.init@cluster\", \"os.base\"]},"
		   "  {\"name\": \"kube.local\", \"on\": \"local\", \"script\": \"templates/local.sh\","
		   "   \"out\": \"local/steps/kube.local.sh\", \"after\": [\"kube.join@all\", \"infra.iso@local\"]}]}");
	write_file(dir, "components/d-off.json",
		   "{\"component\": \"off\", \"phase\": \"os\", \"when\": \"network\","
		   " \"steps\": [{\"name\": \"os.missing_when\", \"on\": \"cluster\", \"script\": \"templates/base.sh\","
		   "   \"out\": \"cluster/steps/never.sh\"}]}");
	write_file(dir, "templates/hosts.yaml",
		   "hosts:\n{{#each nodes as n}}\n  - {name: {{ n.name }}, ip: {{ n.ip }}}\n{{/each}}\n");
	write_file(dir, "templates/node.yaml", "name: {{ node.name }}\n");
	write_file(dir, "templates/base.sh", "#!/bin/bash\nset -euo pipefail\necho {{ node.name | default \"cluster\" }}\n");
	write_file(dir, "templates/local.sh", "#!/bin/bash\necho local\n");
	write_file(dir, "templates/vm.json", "{\"name\": {{ node.name }}}\n");
}

static char *new_stdlib(void)
{
	struct strbuf p = STRBUF_INIT;
	static int n;
	strbuf_addf(&p, "%s/stdlib%d", tmproot, n++);
	mkdir(p.buf, 0755);
	return strbuf_detach(&p, NULL);
}

/* Runs plan_build on dir; returns rc, with the diagnostics text in *msgs. */
static int run_plan(const char *dir, struct fileset *fs, char **msgs)
{
	struct diag d;
	diag_init(&d);
	stdlib_set_dir(dir);
	fileset_init(fs);
	int rc = plan_build(model, fs, &d);
	*msgs = diag_text(&d);
	diag_release(&d);
	stdlib_set_dir(NULL);
	return rc;
}

static const json_t *find_step(const json_t *plan, const char *id, size_t *pos)
{
	const json_t *steps = json_object_get(plan, "steps");
	for (size_t i = 0; i < json_array_size(steps); i++) {
		const json_t *s = json_array_get(steps, i);
		if (!strcmp(json_string_value(json_object_get(s, "id")), id)) {
			if (pos)
				*pos = i;
			return s;
		}
	}
	return NULL;
}

static bool list_is(const json_t *arr, const char *const *want, size_t n)
{
	if (json_array_size(arr) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(json_string_value(json_array_get(arr, i)), want[i]))
			return false;
	return true;
}

static json_t *parse_plan(const struct fileset *fs)
{
	const struct fileset_entry *e = fileset_get(fs, "plan.json");
	return e ? json_loadb(e->data, e->len, 0, NULL) : NULL;
}

static void test_plan_basic(void)
{
	char *dir = new_stdlib();
	write_base_stdlib(dir);
	struct fileset fs;
	char *msgs;
	int rc = run_plan(dir, &fs, &msgs);
	CHECK(rc == 0, "basic plan failed:\n%s", msgs);
	free(msgs);
	json_t *plan = parse_plan(&fs);
	CHECK(plan != NULL, "plan.json present and valid");
	if (!plan) {
		fileset_release(&fs);
		free(dir);
		return;
	}
	CHECK(json_integer_value(json_object_get(plan, "format")) == 1, "format 1");
	CHECK(!strcmp(json_string_value(json_object_get(plan, "cluster")), "lab"), "cluster name");
	CHECK(!strcmp(json_string_value(json_object_get(plan, "cluster_host")), "cp1"), "cluster_host");
	const json_t *w1 = json_object_get(json_object_get(plan, "hosts"), "w1");
	CHECK(!strcmp(json_string_value(json_object_get(w1, "address")), "w1.example") &&
	      json_integer_value(json_object_get(w1, "port")) == 2222 &&
	      !strcmp(json_string_value(json_object_get(w1, "user")), "root") &&
	      !strcmp(json_string_value(json_object_get(w1, "key")), "~/.ssh/k") &&
	      !strcmp(json_string_value(json_object_get(w1, "role")), "worker"), "host w1");
	const json_t *cp1 = json_object_get(json_object_get(plan, "hosts"), "cp1");
	CHECK(!strcmp(json_string_value(json_object_get(cp1, "address")), "10.0.0.1") &&
	      json_integer_value(json_object_get(cp1, "port")) == 22, "host cp1 falls back to ip");

	/* Order: phase first (infra from b-infra.json before os from a-base.json),
	 * then file order, then each order; after is respected. */
	static const char *const order[] = {
		"infra.iso@local", "infra.vm@w1", "infra.vm@w2", "os.base@cp1", "os.base@w1",
		"os.base@w2", "os.gpu@w1", "kube.init@cp1", "kube.join@w1", "kube.join@w2",
		"kube.local@local",
	};
	const json_t *steps = json_object_get(plan, "steps");
	CHECK(json_array_size(steps) == sizeof(order) / sizeof(order[0]), "step count %zu",
	      json_array_size(steps));
	for (size_t i = 0; i < json_array_size(steps) && i < sizeof(order) / sizeof(order[0]); i++)
		CHECK(!strcmp(json_string_value(json_object_get(json_array_get(steps, i), "id")), order[i]),
		      "step %zu is %s, want %s", i,
		      json_string_value(json_object_get(json_array_get(steps, i), "id")), order[i]);

	const json_t *s = find_step(plan, "os.base@cp1", NULL);
	static const char *const none[] = { NULL };
	CHECK(s && list_is(json_object_get(s, "after"), none, 0),
	      "os.base@cp1: infra.vm does not exist on cp1, dropped");
	static const char *const after_w1[] = { "infra.vm@w1" };
	CHECK(list_is(json_object_get(find_step(plan, "os.base@w1", NULL), "after"), after_w1, 1),
	      "os.base@w1 after infra.vm@w1");
	static const char *const files_w1[] = { "nodes/w1/steps/os.base.sh", "nodes/w1/conf/" };
	CHECK(list_is(json_object_get(find_step(plan, "os.base@w1", NULL), "files"), files_w1, 2),
	      "files: script first, then entries");
	static const char *const init_after[] = { "os.base@cp1", "os.gpu@w1" };
	s = find_step(plan, "kube.init@cp1", NULL);
	CHECK(s && list_is(json_object_get(s, "after"), init_after, 2),
	      "kube.init: @cluster, @all, dropped @first_control");
	static const char *const join_after[] = { "kube.init@cp1", "os.base@w2" };
	CHECK(list_is(json_object_get(find_step(plan, "kube.join@w2", NULL), "after"), join_after, 2),
	      "kube.join@w2 after");
	static const char *const local_after[] = { "infra.iso@local", "kube.join@w1", "kube.join@w2" };
	CHECK(list_is(json_object_get(find_step(plan, "kube.local@local", NULL), "after"), local_after, 3),
	      "kube.local after @all and @local");
	s = find_step(plan, "os.gpu@w1", NULL);
	static const char *const gpu_secrets[] = { "ceph_key" };
	CHECK(s && json_is_true(json_object_get(s, "reboot")) &&
	      list_is(json_object_get(s, "secrets"), gpu_secrets, 1) &&
	      json_integer_value(json_object_get(s, "timeout")) == 600, "os.gpu fields");
	s = find_step(plan, "infra.vm@w2", NULL);
	CHECK(s && !strcmp(json_string_value(json_object_get(s, "builtin")), "proxmox.vm") &&
	      !strcmp(json_string_value(json_object_get(s, "args")), "infra/w2/vm.json") &&
	      !json_object_get(s, "script"), "builtin step");
	CHECK(s && !strncmp(json_string_value(json_object_get(s, "hash")), "sha256:", 7) &&
	      strlen(json_string_value(json_object_get(s, "hash"))) == 7 + 64, "hash format");
	CHECK(!strcmp(json_string_value(json_object_get(find_step(plan, "kube.init@cp1", NULL), "on")),
		      "cluster"), "on cluster");

	const struct fileset_entry *e = fileset_get(&fs, "nodes/w1/steps/os.base.sh");
	CHECK(e && e->mode == 0755 && !strcmp(e->data, "#!/bin/bash\nset -euo pipefail\n"
					"# Generated by clusterc from the blocks: node w1.\necho w1\n"),
	      "script rendered with mode 0755");
	e = fileset_get(&fs, "cluster/steps/kube.init.sh");
	CHECK(e && strstr(e->data, "echo cluster"), "cluster step without node uses default");
	e = fileset_get(&fs, "infra/w1/vm.json");
	CHECK(e && e->mode == 0644 && !strcmp(e->data, "{\"name\": \"w1\"}\n"), "args rendered");
	e = fileset_get(&fs, "cluster/hosts.yaml");
	CHECK(e && !strcmp(e->data, "# Generated by clusterc from the blocks: every node.\n"
			      "hosts:\n  - {name: cp1, ip: \"10.0.0.1\"}\n  - {name: w1, ip: \"10.0.0.2\"}\n"
			      "  - {name: w2, ip: \"10.0.0.3\"}\n"), "hosts.yaml: %s", e ? e->data : "");
	CHECK(!fileset_get(&fs, "cluster/steps/never.sh"), "when-false component renders nothing");
	CHECK(fileset_get(&fs, "plan.json") && fileset_get(&fs, "plan.json")->mode == 0644, "plan.json");
	json_decref(plan);

	/* Determinism: a second build gives the same bytes. */
	struct fileset fs2;
	rc = run_plan(dir, &fs2, &msgs);
	free(msgs);
	CHECK(rc == 0 && fs.n == fs2.n, "second build");
	for (size_t i = 0; i < fs.n && i < fs2.n; i++)
		CHECK(!strcmp(fs.v[i].path, fs2.v[i].path) && fs.v[i].len == fs2.v[i].len &&
		      !memcmp(fs.v[i].data, fs2.v[i].data, fs.v[i].len), "same bytes for %s", fs.v[i].path);
	fileset_release(&fs2);

	/* Hash: changing one node's config file changes that node's os.base
	 * hash and nothing else. */
	json_t *before = parse_plan(&fs);
	write_file(dir, "templates/node.yaml", "name: {{ node.name }}\n{{#if node.gpu}}\ngpu: true\n{{/if}}\n");
	rc = run_plan(dir, &fs2, &msgs);
	CHECK(rc == 0, "hash rebuild: %s", msgs);
	free(msgs);
	json_t *after = parse_plan(&fs2);
	const json_t *bs = json_object_get(before, "steps");
	for (size_t i = 0; after && i < json_array_size(bs); i++) {
		const json_t *b = json_array_get(bs, i);
		const char *id = json_string_value(json_object_get(b, "id"));
		const json_t *a = find_step(after, id, NULL);
		bool same = a && json_equal(json_object_get(a, "hash"), json_object_get(b, "hash"));
		CHECK(same == (strcmp(id, "os.base@w1") != 0), "hash of %s %s", id,
		      same ? "did not change" : "changed");
	}
	json_decref(before);
	json_decref(after);
	fileset_release(&fs2);
	fileset_release(&fs);
	free(dir);
}

static void expect_plan_error(int line, void (*setup)(const char *dir), const char *msg)
{
	char *dir = new_stdlib();
	write_base_stdlib(dir);
	setup(dir);
	struct fileset fs;
	char *msgs;
	int rc = run_plan(dir, &fs, &msgs);
	if (!unit_check(rc != 0 && strstr(msgs, msg))) {
		unit_diag("line %d: want error [%s], rc=%d, got:\n%s", line, msg, rc, msgs);
	}
	free(msgs);
	fileset_release(&fs);
	free(dir);
}

static void setup_unknown_after(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": [{\"name\": \"e.x\", \"on\": \"local\","
		   " \"script\": \"templates/local.sh\", \"out\": \"local/e.sh\", \"after\": [\"kube.inti@cluster\"]}]}");
}

static void setup_cycle(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": ["
		   " {\"name\": \"e.a\", \"on\": \"local\", \"script\": \"templates/local.sh\", \"out\": \"local/a.sh\","
		   "  \"after\": [\"e.c\"]},"
		   " {\"name\": \"e.b\", \"on\": \"local\", \"script\": \"templates/local.sh\", \"out\": \"local/b.sh\","
		   "  \"after\": [\"e.a\"]},"
		   " {\"name\": \"e.c\", \"on\": \"local\", \"script\": \"templates/local.sh\", \"out\": \"local/c.sh\","
		   "  \"after\": [\"e.b\"]}]}");
}

static void setup_self_cycle(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": ["
		   " {\"name\": \"e.a\", \"on\": \"local\", \"script\": \"templates/local.sh\", \"out\": \"local/a.sh\","
		   "  \"after\": [\"e.a\"]}]}");
}

static void setup_missing_file(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": [{\"name\": \"e.x\", \"on\": \"local\","
		   " \"script\": \"templates/local.sh\", \"out\": \"local/e.sh\", \"files\": [\"cluster/nope.yaml\"]}]}");
}

static void setup_missing_folder(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": [{\"name\": \"e.x\", \"on\": \"local\","
		   " \"script\": \"templates/local.sh\", \"out\": \"local/e.sh\", \"files\": [\"cluster/none/\"]}]}");
}

static void setup_bad_yaml(const char *dir)
{
	write_file(dir, "templates/node.yaml", "name: {{ node.name }}\n  bad: [\n");
}

static void setup_bad_userdata(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"files\": [{\"template\": \"templates/ud.txt\","
		   " \"out\": \"cluster/user-data\"}]}");
	write_file(dir, "templates/ud.txt", "#cloud-config\nkey: \"unterminated\n");
}

static void setup_dup_out(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"files\": [{\"template\": \"templates/node.yaml\","
		   " \"each\": \"nodes as node\", \"out\": \"cluster/same.yaml\"}]}");
}

static void setup_dup_step(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": [{\"name\": \"e.x\", \"each\": \"nodes as n\","
		   " \"on\": \"local\", \"script\": \"templates/local.sh\", \"out\": \"local/{{ n.name }}.sh\"}]}");
}

static void setup_bad_phase(const char *dir)
{
	write_file(dir, "components/e.json", "{\"component\": \"e\", \"phase\": \"later\"}");
}

static void setup_bad_json(const char *dir)
{
	write_file(dir, "components/e.json", "{\"component\": \"e\",\n \"phase\": }");
}

static void setup_tmpl_error(const char *dir)
{
	write_file(dir, "templates/node.yaml", "name: {{ node.nmae }}\n");
}

static void setup_secret_in_file(const char *dir)
{
	write_file(dir, "templates/node.yaml", "key: {{ ceph.key }}\n");
}

static void setup_bad_out(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"files\": [{\"template\": \"templates/node.yaml\","
		   " \"each\": \"nodes as node\", \"out\": \"x/{{ \\\"..\\\" }}/y\"}]}");
}

static void setup_node_without_each(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": [{\"name\": \"e.x\", \"on\": \"node\","
		   " \"script\": \"templates/local.sh\", \"out\": \"local/e.sh\"}]}");
}

static void setup_public_not_output(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": [{\"name\": \"e.x\", \"on\": \"local\","
		   " \"script\": \"templates/local.sh\", \"out\": \"local/e.sh\", \"outputs\": [\"token\"],"
		   " \"public_outputs\": [\"pubkey\"]}]}");
}

static void setup_bad_after_qual(const char *dir)
{
	write_file(dir, "components/e.json",
		   "{\"component\": \"e\", \"phase\": \"apps\", \"steps\": [{\"name\": \"e.x\", \"on\": \"local\","
		   " \"script\": \"templates/local.sh\", \"out\": \"local/e.sh\", \"after\": [\"kube.init@everywhere\"]}]}");
}

static void test_plan_errors(void)
{
	expect_plan_error(__LINE__, setup_unknown_after, "runs after 'kube.inti@cluster', a step no component defines");
	expect_plan_error(__LINE__, setup_unknown_after, "did you mean 'kube.init'?");
	expect_plan_error(__LINE__, setup_cycle, "cycle: 'e.a@local' -> 'e.c@local' -> 'e.b@local' -> 'e.a@local'");
	expect_plan_error(__LINE__, setup_self_cycle, "cycle: 'e.a@local' -> 'e.a@local'");
	expect_plan_error(__LINE__, setup_missing_file, "names file 'cluster/nope.yaml', but no component renders it");
	expect_plan_error(__LINE__, setup_missing_folder, "names folder 'cluster/none/'");
	expect_plan_error(__LINE__, setup_bad_yaml, "rendered file 'nodes/cp1/conf/node.yaml' is not valid YAML");
	expect_plan_error(__LINE__, setup_bad_yaml, "comes from the template ");
	expect_plan_error(__LINE__, setup_bad_userdata, "rendered file 'cluster/user-data' is not valid YAML");
	expect_plan_error(__LINE__, setup_dup_out, "two files would be written to 'cluster/same.yaml'");
	expect_plan_error(__LINE__, setup_dup_step, "step 'e.x@local' is defined twice");
	expect_plan_error(__LINE__, setup_bad_phase, "unknown phase 'later'");
	expect_plan_error(__LINE__, setup_bad_json, "e.json:2:");
	expect_plan_error(__LINE__, setup_tmpl_error, "templates/node.yaml:1:10: error[C0642]: 'node.nmae' is not defined");
	expect_plan_error(__LINE__, setup_tmpl_error, "while expanding with node = 'cp1'");
	expect_plan_error(__LINE__, setup_secret_in_file, "refusing to write secret 'ceph_key'");
	expect_plan_error(__LINE__, setup_bad_out, "not a safe file name");
	expect_plan_error(__LINE__, setup_node_without_each, "needs \"each\" binding a node");
	expect_plan_error(__LINE__, setup_bad_after_qual, "unknown '@everywhere'");
	expect_plan_error(__LINE__, setup_public_not_output,
			  "e.json: steps[0]: \"public_outputs\" names 'pubkey', which is not one of the step's \"outputs\"");
}

/* Wall and CPU clocks in milliseconds: on a loaded machine the CPU time is
 * the number that says what the code costs. */
static double wall_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A 10,000-node plan, to measure the planner at the top of its range
 * (UNIT_SCALE_NODES makes it smaller, for valgrind runs). */
static void test_plan_scale(void)
{
	const char *env = getenv("UNIT_SCALE_NODES");
	int nnodes = env && atoi(env) > 1 ? atoi(env) : 10000;
	char *dir = new_stdlib();
	write_base_stdlib(dir);
	json_t *big = json_deep_copy(model);
	json_t *nodes = json_array();
	json_t *workers = json_array();
	for (int i = 0; i < nnodes; i++) {
		struct strbuf name = STRBUF_INIT, ip = STRBUF_INIT;
		strbuf_addf(&name, "n%d", i);
		strbuf_addf(&ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		json_t *n = json_pack("{s:s,s:s,s:s,s:n}", "name", name.buf, "role", i ? "worker" : "control",
				      "ip", ip.buf, "gpu");
		json_array_append(nodes, n);
		if (i)
			json_array_append(workers, n);
		json_decref(n);
		strbuf_release(&name);
		strbuf_release(&ip);
	}
	json_object_set_new(big, "nodes", nodes);
	json_object_set_new(big, "workers", workers);
	json_object_set_new(big, "first_control", json_pack("{s:s}", "name", "n0"));
	json_t *saved = model;
	model = big;
	struct fileset fs;
	char *msgs;
	double w0 = wall_ms(), c0 = cpu_ms();
	int rc = run_plan(dir, &fs, &msgs);
	double w1 = wall_ms(), c1 = cpu_ms();
	CHECK(rc == 0, "scale plan: %s", msgs);
	const struct fileset_entry *pj = fileset_get(&fs, "plan.json");
	unit_diag("scale: plan_build for %d nodes: %zu files, plan.json %zu bytes, %.0f ms wall, %.0f ms CPU\n",
	       nnodes, fs.n, pj ? pj->len : 0, w1 - w0, c1 - c0);
	free(msgs);
	/* And writing it all out, flushed, replacing a previous copy. */
	struct strbuf outdir = STRBUF_INIT;
	strbuf_addf(&outdir, "%s/scale-out", tmproot);
	struct diag d;
	diag_init(&d);
	/* Writing 40,000 files takes minutes on a loaded disk: measured only on
	 * request (UNIT_SCALE_EMIT=1). */
	for (int round = 0; round < 2 && getenv("UNIT_SCALE_EMIT"); round++) {
		w0 = wall_ms();
		c0 = cpu_ms();
		CHECK(emit_write(outdir.buf, "big", &fs, &d) == 0, "scale emit");
		w1 = wall_ms();
		c1 = cpu_ms();
		unit_diag("scale: emit_write of %zu files (%s): %.0f ms wall, %.0f ms CPU\n", fs.n,
		       round ? "replacing" : "new", w1 - w0, c1 - c0);
	}
	diag_release(&d);
	strbuf_release(&outdir);
	fileset_release(&fs);
	model = saved;
	json_decref(big);
	free(dir);
}

/* ---- emit ------------------------------------------------------------------- */

static size_t count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

static void test_emit(void)
{
	struct strbuf out = STRBUF_INIT, p = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&out, "%s/out/nested", tmproot);
	struct fileset fs;
	fileset_init(&fs);
	fileset_add_copy(&fs, "plan.json", "{}\n", 3, 0644, &err);
	fileset_add_copy(&fs, "nodes/a/steps/x.sh", "#!/bin/bash\n", 12, 0755, &err);
	fileset_add_copy(&fs, "nodes/b/user-data", "#cloud-config\n", 14, 0644, &err);
	fileset_add_copy(&fs, "old-only-in-v1", "v1", 2, 0644, &err);
	fileset_sort(&fs);
	struct diag d;
	diag_init(&d);
	mode_t old_mask = umask(077);
	CHECK(emit_write(out.buf, "lab", &fs, &d) == 0, "first emit (creates OUTDIR)");
	umask(old_mask);
	strbuf_addf(&p, "%s/lab/nodes/a/steps/x.sh", out.buf);
	struct stat st;
	CHECK(stat(p.buf, &st) == 0 && (st.st_mode & 07777) == 0755, "mode 0755 despite umask");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/lab/plan.json", out.buf);
	CHECK(stat(p.buf, &st) == 0 && (st.st_mode & 07777) == 0644, "mode 0644");
	char *text = read_all(p.buf);
	CHECK(text && !strcmp(text, "{}\n"), "content");
	free(text);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/lab", out.buf);
	CHECK(stat(p.buf, &st) == 0 && (st.st_mode & 07777) == 0755, "folder mode 0755");

	/* Replace: new content, the file only v1 had is gone. */
	struct fileset fs2;
	fileset_init(&fs2);
	fileset_add_copy(&fs2, "plan.json", "{\"v\": 2}\n", 9, 0644, &err);
	fileset_add_copy(&fs2, "nodes/a/steps/x.sh", "#!/bin/bash\necho 2\n", 19, 0755, &err);
	fileset_sort(&fs2);
	CHECK(emit_write(out.buf, "lab", &fs2, &d) == 0, "second emit replaces");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/lab/plan.json", out.buf);
	text = read_all(p.buf);
	CHECK(text && !strcmp(text, "{\"v\": 2}\n"), "replaced content");
	free(text);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/lab/old-only-in-v1", out.buf);
	CHECK(access(p.buf, F_OK) != 0, "stale file removed");
	CHECK(count_entries(out.buf, ".") == 2, "no temp or old folders left (only . and ..)");

	/* The same through the fallback for file systems without RENAME_EXCHANGE. */
	emit_no_exchange = true;
	CHECK(emit_write(out.buf, "lab", &fs, &d) == 0, "fallback emit");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/lab/old-only-in-v1", out.buf);
	CHECK(access(p.buf, F_OK) == 0, "fallback wrote the new tree");
	CHECK(count_entries(out.buf, ".") == 2, "fallback left no temp or old folders");
	CHECK(emit_write(out.buf, "lab", &fs2, &d) == 0, "fallback emit back to v2");
	emit_no_exchange = false;
	CHECK(access(p.buf, F_OK) != 0, "fallback replaced the tree");
	CHECK(!diag_failed(&d), "no errors so far");

	/* A failure while writing leaves the previous output byte-for-byte. */
	for (long fault = 0; fault < 2; fault++) {
		emit_fault_after = fault;
		struct diag d2;
		diag_init(&d2);
		CHECK(emit_write(out.buf, "lab", &fs, &d2) == -1, "fault %ld fails", fault);
		char *msg = diag_text(&d2);
		CHECK(strstr(msg, "No space left on device") != NULL, "fault message: %s", msg);
		free(msg);
		diag_release(&d2);
		emit_fault_after = -1;
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/lab/plan.json", out.buf);
		text = read_all(p.buf);
		CHECK(text && !strcmp(text, "{\"v\": 2}\n"), "old plan.json intact after fault");
		free(text);
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/lab/nodes/a/steps/x.sh", out.buf);
		text = read_all(p.buf);
		CHECK(text && !strcmp(text, "#!/bin/bash\necho 2\n"), "old script intact after fault");
		free(text);
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/lab/nodes/b", out.buf);
		CHECK(access(p.buf, F_OK) != 0, "nothing of the failed build leaked in");
		CHECK(count_entries(out.buf, ".lab.") == 0, "temp folder removed after fault");
	}

	/* Names that would escape or hide. */
	static const char *const bad[] = { "", "a/b", ".hidden", "..", "." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct diag d3;
		diag_init(&d3);
		CHECK(emit_write(out.buf, bad[i], &fs, &d3) == -1 && diag_failed(&d3), "name '%s' refused",
		      bad[i]);
		diag_release(&d3);
	}
	/* A target that is a file is not replaced. */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/afile", out.buf);
	write_file(out.buf, "afile", "keep");
	struct diag d4;
	diag_init(&d4);
	CHECK(emit_write(out.buf, "afile", &fs, &d4) == -1, "file target refused");
	text = read_all(p.buf);
	CHECK(text && !strcmp(text, "keep"), "file target intact");
	free(text);
	CHECK(count_entries(out.buf, ".afile.") == 0, "temp folder removed");
	diag_release(&d4);

	diag_release(&d);
	fileset_release(&fs);
	fileset_release(&fs2);
	strbuf_release(&out);
	strbuf_release(&p);
	strbuf_release(&err);
}

int main(void)
{
	char root[] = "/tmp/test_plan.XXXXXX";
	tmproot = mkdtemp(root);
	if (!tmproot) {
		perror("mkdtemp");
		return 1;
	}
	model = json_loads(model_text, 0, NULL);
	json_t *workers = json_array();
	json_t *nodes = json_object_get(model, "nodes");
	json_array_append(workers, json_array_get(nodes, 1));
	json_array_append(workers, json_array_get(nodes, 2));
	json_object_set_new(model, "workers", workers);
	UNIT_TEST(test_fileset);
	UNIT_TEST(test_plan_basic);
	UNIT_TEST(test_plan_errors);
	UNIT_TEST(test_plan_scale);
	UNIT_TEST(test_emit);
	json_decref(model);
	rm_rf(tmproot);
	return unit_done();
}
