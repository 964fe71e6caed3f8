/* Unit tests for the runner's pure parts: base64, redaction, .env parsing,
 * names, plan.json validation, the ssh argv, inventory lookups, and proc
 * (a child's stdin/stdout through the poll loop). No network. */
#include "inventory.h"
#include "proc.h"
#include "run.h"
#include "ssh.h"
#include "strbuf.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_run_util.XXXXXX";

static void write_file(const char *name, const char *text, struct strbuf *path)
{
	strbuf_reset(path);
	strbuf_addf(path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path->buf, "w");
	fputs(text, f);
	fclose(f);
}

static void test_base64(void)
{
	const char *cases[][2] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
				   { "foob", "Zm9vYg==" }, { "a b'$\n", "YSBiJyQK" } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf e = STRBUF_INIT, d = STRBUF_INIT;
		base64_encode(&e, (const unsigned char *)cases[i][0], strlen(cases[i][0]));
		CHECK(!strcmp(e.buf, cases[i][1]), "encode %zu: %s", i, e.buf);
		CHECK(base64_decode(&d, e.buf, e.len) == 0 && !strcmp(d.buf, cases[i][0]), "decode %zu", i);
		CHECK(base64_valid(e.buf), "valid %zu", i);
		strbuf_release(&e);
		strbuf_release(&d);
	}
	CHECK(!base64_valid("abc"), "length not a multiple of 4");
	CHECK(!base64_valid("ab=c"), "padding in the middle");
	CHECK(!base64_valid("a b="), "space");
}

static void test_redact(void)
{
	struct redactor r = { 0 };
	struct strbuf b = STRBUF_INIT, sb = STRBUF_INIT;
	base64_encode(&b, (const unsigned char *)"hunter2\n", 8);
	redact_add_value(&r, "PW", b.buf);
	redact_add(&r, "X", "ab", 2); /* too short to redact */
	strbuf_addf(&sb, "pw=hunter2 b64=%s ab\n", b.buf);
	redact_apply(&r, &sb);
	CHECK(!strcmp(sb.buf, "pw=[redacted PW] b64=[redacted PW] ab\n"), "redacted: %s", sb.buf);
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "hunter2hunter2");
	redact_apply(&r, &sb);
	CHECK(!strcmp(sb.buf, "[redacted PW][redacted PW]"), "adjacent: %s", sb.buf);
	redact_release(&r);
	strbuf_release(&b);
	strbuf_release(&sb);
}

/* shown: what a log line becomes once the secret (given in plain) is registered. */
static char *shown(const char *secret, const char *line)
{
	struct redactor r = { 0 };
	struct strbuf b = STRBUF_INIT, sb = STRBUF_INIT;
	base64_encode(&b, secret, strlen(secret));
	redact_add_value(&r, "S", b.buf);
	strbuf_addstr(&sb, line);
	redact_apply(&r, &sb);
	redact_release(&r);
	strbuf_release(&b);
	return strbuf_detach(&sb, NULL);
}

/* A step that prints without end: its log stays bounded, keeps its first and
 * last lines whole, and a secret printed across the cut is still redacted. */
static void test_log_bound(void)
{
	struct redactor r = { 0 };
	struct strbuf b = STRBUF_INIT, log = STRBUF_INIT;
	const char *secret = "hunter2-very-secret-value";
	base64_encode(&b, secret, strlen(secret));
	redact_add_value(&r, "S", b.buf);
	struct log_cut cut = { 0 };
	size_t written = 0, line = 0, max = 0;
	char buf[64];
	/* 100 MiB of numbered lines, the secret on every 100,000th. */
	while (written < ((size_t)100 << 20)) {
		int n = line % 100000 == 99999 ? snprintf(buf, sizeof(buf), "token %s\n", secret)
					       : snprintf(buf, sizeof(buf), "line %zu of output\n", line);
		strbuf_add(&log, buf, (size_t)n);
		written += (size_t)n;
		line++;
		if (log.len > LOG_CAP / 8) {
			log_bound(&r, &log, &cut, LOG_CAP);
			if (log.len > max)
				max = log.len;
		}
	}
	CHECK(max <= LOG_CAP + LOG_CAP / 8, "the log stayed bounded: %zu bytes at most", max);
	log_bound(&r, &log, &cut, 2 * LOG_KEEP);
	CHECK(log.len <= 2 * LOG_KEEP + 200, "at the end it keeps the first and the last LOG_KEEP: %zu", log.len);
	CHECK(!strncmp(log.buf, "line 0 of output\n", 17), "the first line is kept");
	snprintf(buf, sizeof(buf), "line %zu of output\n", line - 1);
	CHECK(log.len > strlen(buf) && !strcmp(log.buf + log.len - strlen(buf), buf), "the last line is kept");
	CHECK(strstr(log.buf, "[clusterc: output dropped here") != NULL, "the cut is marked");
	CHECK(cut.dropped + log.len <= written && cut.dropped > written / 2,
	      "what was dropped is counted (redaction only shortens): %zu of %zu", cut.dropped, written);
	redact_apply(&r, &log);
	CHECK(!strstr(log.buf, "hunter2"), "no part of the secret survives in the kept head or tail");
	/* Every kept line is whole: the text around the mark is line ends. */
	char *m = strstr(log.buf, "[clusterc: output dropped here");
	CHECK(m && m > log.buf && m[-1] == '\n', "the head ends at a line end");
	char *after = m ? strchr(m, '\n') : NULL;
	CHECK(after && !strncmp(after + 1, "line ", 5), "the tail starts at a line start");
	redact_release(&r);
	strbuf_release(&b);
	strbuf_release(&log);
}

/* base64 of text wrapped at width columns, as base64(1) and openssl print it. */
static void wrapped(struct strbuf *out, const char *text, size_t width)
{
	struct strbuf b = STRBUF_INIT;
	base64_encode(&b, text, strlen(text));
	for (size_t i = 0; i < b.len; i += width) {
		strbuf_add(out, b.buf + i, b.len - i < width ? b.len - i : width);
		strbuf_addch(out, '\n');
	}
	strbuf_release(&b);
}

/* The forms a secret takes in a step's log (issue 15, item 12). */
static void test_redact_forms(void)
{
	const char *tok = "sup3r s3cret 'tok' $en";
	char *t = shown(tok, "+ echo 'sup3r s3cret '\\''tok'\\'' $en'\n");
	CHECK(!strcmp(t, "+ echo '[redacted S]'\n"), "bash -x quoting: %s", t);
	free(t);
	const char *js = "pa\"ss\\w\u00f6rd\tx";
	t = shown(js, "{\"password\":\"pa\\\"ss\\\\w\u00f6rd\\tx\"}");
	CHECK(!strcmp(t, "{\"password\":\"[redacted S]\"}"), "JSON escaping: %s", t);
	free(t);
	t = shown(js, "{\"password\":\"pa\\\"ss\\\\w\\u00f6rd\\tx\"}");
	CHECK(!strcmp(t, "{\"password\":\"[redacted S]\"}"), "JSON ASCII escaping: %s", t);
	free(t);
	const char *key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
			  "kD1oW3mXf0aZ0b7sQv9N2cLmA4pYtRkE8uHs6zJ5gVqTn1yBxCwP\n-----END KEY-----\n";
	for (size_t w = 64; w <= 76; w += 12) {
		struct strbuf log = STRBUF_INIT;
		wrapped(&log, key, w);
		t = shown(key, log.buf);
		CHECK(!strstr(t, "kt") && !strstr(t, "LS0t") && strlen(t) < log.len / 4,
		      "base64 wrapped at %zu: %s", w, t);
		free(t);
		strbuf_release(&log);
	}
	t = shown(key, "-----BEGIN KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\r\n"
		       "kD1oW3mXf0aZ0b7sQv9N2cLmA4pYtRkE8uHs6zJ5gVqTn1yBxCwP\r\n-----END KEY-----\r\n");
	CHECK(!strstr(t, "MIIE") && !strstr(t, "kD1o"), "CRLF line ends: %s", t);
	free(t);
	t = shown(key, "line 2: kD1oW3mXf0aZ0b7sQv9N2cLmA4pYtRkE8uHs6zJ5gVqTn1yBxCwP\r");
	CHECK(!strcmp(t, "line 2: [redacted S]\r"), "one line of a multi-line secret: %s", t);
	free(t);
	/* The secret inside a longer text that was encoded as a whole. */
	struct strbuf in = STRBUF_INIT, enc = STRBUF_INIT;
	for (size_t off = 0; off < 3; off++) {
		strbuf_reset(&in);
		strbuf_reset(&enc);
		strbuf_addf(&in, "%.*stoken: %s\n", (int)off, "ab", tok);
		base64_encode(&enc, in.buf, in.len);
		t = shown(tok, enc.buf);
		CHECK(strstr(t, "[redacted S]") != NULL, "inside an encoding at offset %zu: %s", off, t);
		free(t);
	}
	strbuf_release(&in);
	strbuf_release(&enc);
	t = shown("some-address", "host some-addr is up");
	CHECK(!strcmp(t, "host some-addr is up"), "a short part of a value stays: %s", t);
	free(t);
}

static void test_env_file(void)
{
	struct strbuf p = STRBUF_INIT, err = STRBUF_INIT;
	write_file("e.env", "# comment\nA=1\nexport B=\"two words\"\n  C='x=y'\nD=\r\n", &p);
	json_t *o = json_object();
	CHECK(env_file_load(o, p.buf, &err) == 0, "load: %s", err.buf);
	CHECK(!strcmp(json_string_value(json_object_get(o, "A")), "1"), "A");
	CHECK(!strcmp(json_string_value(json_object_get(o, "B")), "two words"), "B");
	CHECK(!strcmp(json_string_value(json_object_get(o, "C")), "x=y"), "C");
	CHECK(!strcmp(json_string_value(json_object_get(o, "D")), ""), "D");
	CHECK(json_object_size(o) == 4, "size %zu", json_object_size(o));
	json_decref(o);
	/* A malformed line is an error naming its place, and nothing is loaded. */
	strbuf_reset(&p);
	write_file("bad.env", "A=1\nbad line\n", &p);
	o = json_object();
	CHECK(env_file_load(o, p.buf, &err) < 0, "bad line accepted");
	CHECK(strstr(err.buf, "bad.env:2:5: expected '='") != NULL, "error: %s", err.buf);
	CHECK(json_object_size(o) == 0, "partial load: %zu", json_object_size(o));
	json_decref(o);
	strbuf_release(&p);
	strbuf_release(&err);
}

static void test_names(void)
{
	CHECK(safe_name("os.base@k8s-node-1"), "step id");
	CHECK(!safe_name("-oProxyCommand=x"), "leading dash");
	CHECK(!safe_name("../etc"), "dot-dot");
	CHECK(!safe_name("a/b"), "slash");
	CHECK(!safe_name("a b"), "space");
	CHECK(!safe_name(""), "empty");
}

static int load_plan(const char *json, struct strbuf *err)
{
	struct strbuf p = STRBUF_INIT, d = STRBUF_INIT;
	strbuf_addf(&d, "%s/plan", tmpdir);
	mkdir_p(d.buf, 0755);
	write_file("plan/plan.json", json, &p);
	struct run_plan plan;
	int rc = run_plan_load(&plan, d.buf, err);
	run_plan_release(&plan);
	strbuf_release(&p);
	strbuf_release(&d);
	return rc;
}

#define STEP(extra) "{\"id\":\"a@n1\",\"name\":\"a\",\"phase\":\"os\",\"host\":\"n1\"," \
	"\"script\":\"s.sh\",\"hash\":\"sha256:1\"" extra "}"
#define PLAN(steps) "{\"format\":1,\"cluster\":\"c\",\"hosts\":{\"n1\":{\"address\":\"x\"}}," \
	"\"steps\":[" steps "]}"

static void test_plan(void)
{
	struct strbuf err = STRBUF_INIT;
	CHECK(load_plan(PLAN(STEP("")), &err) == 0, "minimal plan: %s", err.buf);
	strbuf_reset(&err);
	CHECK(load_plan("{\"format\":2}", &err) < 0 && strstr(err.buf, "format"), "format: %s", err.buf);
	strbuf_reset(&err);
	CHECK(load_plan(PLAN(STEP(",\"after\":[\"nope\"]")), &err) < 0 &&
	      strstr(err.buf, "unknown step 'nope'"), "after: %s", err.buf);
	strbuf_reset(&err);
	CHECK(load_plan(PLAN(STEP(",\"files\":[\"../../etc/passwd\"]")), &err) < 0 &&
	      strstr(err.buf, "outside the plan"), "escape: %s", err.buf);
	strbuf_reset(&err);
	CHECK(load_plan(PLAN(STEP(",\"secrets\":[\"A B\"]")), &err) < 0, "secret name");
	strbuf_reset(&err);
	CHECK(load_plan(PLAN(STEP("") "," STEP("")), &err) < 0 && strstr(err.buf, "twice"),
	      "duplicate id: %s", err.buf);
	strbuf_reset(&err);
	CHECK(load_plan("{\"format\":1,\"cluster\":\"c\",\"hosts\":{},\"steps\":[" STEP("") "]}", &err) < 0 &&
	      strstr(err.buf, "unknown host"), "unknown host: %s", err.buf);
	strbuf_release(&err);
}

static double cpu_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Loading a plan is linear: 40,000 steps (8,000 hosts of 5, each after the
 * previous) took 8 to 18 s of CPU while each lookup scanned every step. */
static void test_plan_load_linear(void)
{
	struct strbuf j = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addstr(&j, "{\"format\":1,\"cluster\":\"c\",\"hosts\":{");
	for (int h = 0; h < 8000; h++)
		strbuf_addf(&j, "%s\"h%d\":{\"address\":\"x\"}", h ? "," : "", h);
	strbuf_addstr(&j, "},\"steps\":[");
	for (int h = 0; h < 8000; h++)
		for (int k = 0; k < 5; k++) {
			strbuf_addf(&j, "%s{\"id\":\"s%d@h%d\",\"name\":\"s%d\",\"phase\":\"os\","
				    "\"host\":\"h%d\",\"script\":\"s.sh\",\"hash\":\"sha256:1\"",
				    h || k ? "," : "", k, h, k, h);
			if (k)
				strbuf_addf(&j, ",\"after\":[\"s%d@h%d\"]", k - 1, h);
			strbuf_addch(&j, '}');
		}
	strbuf_addstr(&j, "]}");
	double t0 = cpu_seconds();
	int rc = load_plan(j.buf, &err);
	double t = cpu_seconds() - t0;
	CHECK(rc == 0, "40k steps load: %s", err.buf);
	CHECK(t < 4.0, "40k steps load in %.2f s of CPU (linear: about 1 s)", t);
	strbuf_release(&j);
	strbuf_release(&err);
}

static void test_ssh_argv(void)
{
	struct ssh_host h = { .name = "n1", .address = "198.18.0.2", .port = 2222, .user = "root",
			      .key = "/k", .known_hosts = "/kh", .proxy_jump = "bastion" };
	struct strvec av = STRVEC_INIT;
	ssh_argv(&av, &h, "/tmp/c/h0", SSH_CLIENT, 7, "/tmp/c/cfg");
	struct strbuf all = STRBUF_INIT;
	for (size_t i = 0; i < av.n; i++)
		strbuf_addf(&all, "%s ", av.v[i]);
	CHECK(strstr(all.buf, "BatchMode=yes") && strstr(all.buf, "-oConnectTimeout=7") &&
	      strstr(all.buf, "-oStrictHostKeyChecking=yes") &&
	      strstr(all.buf, "-oUserKnownHostsFile=/kh") &&
	      strstr(all.buf, "-oControlPath=/tmp/c/h0") && strstr(all.buf, "-J bastion") &&
	      strstr(all.buf, "-p2222") && strstr(all.buf, "-l root") &&
	      !strncmp(all.buf, "ssh -F /tmp/c/cfg ", 18), "argv: %s", all.buf);
	strbuf_reset(&all);
	struct ssh_host two[2] = { h, h };
	two[1].known_hosts = "/kh2";
	strbuf_addf(&all, "%s/cfg", tmpdir);
	const char *extra[] = { "KexAlgorithms \"curve25519-sha256\"", NULL };
	CHECK(ssh_write_config(all.buf, two, 2, 7, extra) == 0, "write config");
	struct strbuf cfg = STRBUF_INIT;
	strbuf_read_file(&cfg, all.buf);
	CHECK(strstr(cfg.buf, "UserKnownHostsFile \"/kh\" \"/kh2\"\n") &&
	      strstr(cfg.buf, "IdentityFile \"/k\"\n") && strstr(cfg.buf, "BatchMode yes") &&
	      strstr(cfg.buf, "StrictHostKeyChecking yes") && strstr(cfg.buf, "ConnectTimeout 7") &&
	      strstr(cfg.buf, "KexAlgorithms \"curve25519-sha256\"\nHost *\n"),
	      "config: %s", cfg.buf);
	strbuf_release(&cfg);
	CHECK(!strcmp(av.v[av.n - 2], "--") && !strcmp(av.v[av.n - 1], "198.18.0.2"),
	      "address last, after --");
	strvec_clear(&av);
	strbuf_release(&all);
	CHECK(ssh_classify("Host key verification failed.\n") == SSH_FAIL_HOSTKEY, "hostkey");
	CHECK(ssh_classify("ssh: connect to host x port 22: Connection refused\n") == SSH_FAIL_CONNECT,
	      "refused");
	CHECK(ssh_classify("root@x: Permission denied (publickey).\n") == SSH_FAIL_AUTH, "auth");
}

static void test_inventory(void)
{
	struct strbuf p = STRBUF_INIT, err = STRBUF_INIT;
	write_file("inv.json",
		   "{\"hosts\":{\"n1\":{\"address\":\"198.18.0.2\",\"port\":22,\"user\":\"root\","
		   "\"key\":\"~/k\",\"known_hosts\":\"/kh\",\"proxy_jump\":null},"
		   "\"bad\":{\"address\":\"-oProxyCommand=x\"}},\"gitlab\":{\"api\":\"http://127.0.0.1:1\"}}",
		   &p);
	struct inventory inv;
	CHECK(inventory_load(&inv, p.buf, &err) == 0, "load: %s", err.buf);
	struct ssh_host h;
	CHECK(inventory_host(&inv, "n1", &h, &err) == 0 && h.port == 22 && !h.proxy_jump &&
	      h.key[0] == '/', "n1");
	ssh_host_release(&h);
	CHECK(inventory_host(&inv, "n9", &h, &err) == 1, "missing entry");
	CHECK(inventory_host(&inv, "bad", &h, &err) < 0, "address starting with '-'");
	json_t *ov = inventory_overrides(&inv);
	CHECK(json_object_get(ov, "gitlab") && !json_object_get(ov, "proxmox"), "overrides");
	json_decref(ov);
	inventory_release(&inv);
	strbuf_release(&p);
	strbuf_release(&err);
}

static void test_proc(void)
{
	const char *argv[] = { "sh", "-c", "cat; echo err >&2; exit 3", NULL };
	struct strbuf out = STRBUF_INIT;
	int rc = proc_run_sync(argv, NULL, "hello\n", &out);
	CHECK(rc == 3 && strstr(out.buf, "hello\n") && strstr(out.buf, "err"), "sync: %d %s", rc,
	      out.buf);
	strbuf_reset(&out);
	const char *bad[] = { "/nonexistent/prog", NULL };
	CHECK(proc_run_sync(bad, NULL, NULL, &out) == 127 && strstr(out.buf, "cannot run"),
	      "exec failure: %s", out.buf);
	strbuf_release(&out);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	UNIT_TEST(test_base64);
	UNIT_TEST(test_redact);
	UNIT_TEST(test_redact_forms);
	UNIT_TEST(test_log_bound);
	UNIT_TEST(test_env_file);
	UNIT_TEST(test_names);
	UNIT_TEST(test_plan);
	UNIT_TEST(test_plan_load_linear);
	UNIT_TEST(test_ssh_argv);
	UNIT_TEST(test_inventory);
	UNIT_TEST(test_proc);
	rm_rf(tmpdir);
	return unit_done();
}
