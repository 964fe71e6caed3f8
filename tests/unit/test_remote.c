/* Unit tests for run/remote: the remote scripts built from stdlib/runner/
 * are all there, sent without their comment header, and step.sh exits with
 * the numbers enum remote_exit names. */
#include "remote.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_scripts_embedded_without_header(void)
{
	static const struct {
		enum remote_script which;
		const char *first_line;
	} cases[] = {
		{ REMOTE_PREP, "D=$1 M=$2 I=$3 K=$4\n" },
		{ REMOTE_SHIP, "D=$1 n=bundle.$2\n" },
		{ REMOTE_STEP, "D=$1 S=$2 H=$3 N=$4 T=$5 G=$6 O=$7 M=${8:-run}\n" },
		{ REMOTE_CANCEL, "p=$(cat \"$1/run/$2.pid\" 2>/dev/null)" },
		{ REMOTE_RELEASE, "c=$(cat \"$1/lock/owner\" 2>/dev/null)\n" },
		{ REMOTE_REBOOT, "setsid -f sh -c 'sleep 2; systemctl reboot'" },
		{ REMOTE_STATUS, "export KUBECONFIG=/etc/kubernetes/admin.conf\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *text = remote_script(cases[i].which);
		CHECK(!strncmp(text, cases[i].first_line, strlen(cases[i].first_line)),
		      "script %zu starts with '%.40s'", i, text);
		CHECK(!strstr(text, "shellcheck") && text[strlen(text) - 1] == '\n',
		      "script %zu: no header left, ends with a newline", i);
	}
}

static void test_exit_codes_match_enum(void)
{
	const char *step = remote_script(REMOTE_STEP);
	char want[64];
	snprintf(want, sizeof want, "exit %d;", REMOTE_EXIT_NO_BUNDLE);
	CHECK(strstr(step, want) != NULL, "step.sh has '%s'", want);
	snprintf(want, sizeof want, "|| rc=%d\n", REMOTE_EXIT_NOT_RECORDED);
	CHECK(strstr(step, want) != NULL, "step.sh has '%s'", want);
	snprintf(want, sizeof want, "  rc=%d\n", REMOTE_EXIT_FORGED);
	CHECK(strstr(step, want) != NULL, "step.sh has '%s'", want);
}

/* Runs step.sh here on a script that prints `line`; returns its exit status
 * and whether it recorded the step. */
static int run_step(const char *line, const char *outputs, bool *recorded)
{
	char dir[] = "/tmp/test_remote.XXXXXX";
	if (!mkdtemp(dir))
		return -1;
	struct strbuf sh = STRBUF_INIT, cmd = STRBUF_INIT, f = STRBUF_INIT;
	strbuf_addf(&sh, "%s/step.sh", dir);
	FILE *o = fopen(sh.buf, "w");
	fputs(remote_script(REMOTE_STEP), o);
	fclose(o);
	strbuf_addf(&f, "%s/bundle/s.sh", dir);
	strbuf_addf(&cmd, "mkdir -p %s/bundle %s/state %s/run", dir, dir, dir);
	int rc = system(cmd.buf);
	o = fopen(f.buf, "w");
	fprintf(o, "echo '%s'\n", line);
	fclose(o);
	strbuf_reset(&cmd);
	strbuf_addf(&cmd, "bash %s %s s.sh sha256:x s 10 1 '%s' </dev/null >/dev/null 2>&1", sh.buf,
		    dir, outputs);
	rc = system(cmd.buf);
	strbuf_reset(&f);
	strbuf_addf(&f, "%s/state/s", dir);
	*recorded = access(f.buf, F_OK) == 0;
	strbuf_reset(&cmd);
	strbuf_addf(&cmd, "rm -rf %s", dir);
	if (system(cmd.buf) != 0)
		rc = -1;
	strbuf_release(&sh);
	strbuf_release(&cmd);
	strbuf_release(&f);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A step that forges a value meant for other hosts is refused by the runner;
 * its host must not record it as done, or the next run skips it. */
static void test_forging_step_not_recorded(void)
{
	bool rec;
	int rc = run_step("::clusterc::output JOIN a2V5", "A,JOIN", &rec);
	CHECK(rc == 0 && rec, "declared output: recorded (rc %d)", rc);
	rc = run_step("::clusterc::output JOIN a2V5", "A,JOINX", &rec);
	CHECK(rc == REMOTE_EXIT_FORGED && !rec, "undeclared output: not recorded (rc %d)", rc);
	rc = run_step("::clusterc::output JOIN a2V5", "", &rec);
	CHECK(rc == REMOTE_EXIT_FORGED && !rec, "no outputs declared: not recorded (rc %d)", rc);
	rc = run_step("::clusterc::output  a2V5", "A", &rec);
	CHECK(rc == REMOTE_EXIT_FORGED && !rec, "empty name: not recorded (rc %d)", rc);
	rc = run_step("::clusterc::outputs JOIN x", "", &rec);
	CHECK(rc == 0 && rec, "not a protocol line: recorded (rc %d)", rc);
}

static void test_remote_cmd_quotes(void)
{
	struct ssh_host root = { .user = "root" }, user = { .user = "ubuntu" }, none = { 0 };
	const char *args[] = { "/var/lib/clusterc/c", "it's", NULL };
	struct strbuf cmd = STRBUF_INIT;
	remote_cmd(&cmd, &root, "echo $1", args);
	CHECK(!strcmp(cmd.buf, "exec bash -c 'echo $1' clusterc /var/lib/clusterc/c 'it'\\''s'"),
	      "root: '%s'", cmd.buf);
	strbuf_reset(&cmd);
	remote_cmd(&cmd, &user, "true", args + 2);
	CHECK(!strcmp(cmd.buf, "exec sudo -n bash -c true clusterc"), "user: '%s'", cmd.buf);
	strbuf_reset(&cmd);
	remote_cmd(&cmd, &none, "true", args + 2);
	CHECK(strstr(cmd.buf, "[ \"$(id -u)\" = 0 ] || S='sudo -n'") != NULL, "no user: '%s'",
	      cmd.buf);
	strbuf_release(&cmd);
	char *d = remote_dir("homelab");
	CHECK(!strcmp(d, "/var/lib/clusterc/homelab"), "remote_dir '%s'", d);
	free(d);
}

int main(void)
{
	UNIT_TEST(test_scripts_embedded_without_header);
	UNIT_TEST(test_exit_codes_match_enum);
	UNIT_TEST(test_remote_cmd_quotes);
	UNIT_TEST(test_forging_step_not_recorded);
	return unit_done();
}
