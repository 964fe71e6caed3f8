/* Unit tests for run/remote: the remote scripts built from stdlib/runner/
 * are all there, sent without their comment header, and step.sh exits with
 * the numbers enum remote_exit names. */
#include "remote.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_scripts_embedded_without_header(void)
{
	static const struct {
		enum remote_script which;
		const char *first_line;
	} cases[] = {
		{ REMOTE_PREP, "D=$1 M=$2 I=$3 K=$4\n" },
		{ REMOTE_SHIP, "D=$1 n=bundle.$2\n" },
		{ REMOTE_STEP, "D=$1 S=$2 H=$3 N=$4 T=$5 G=$6 M=${7:-run}\n" },
		{ REMOTE_CANCEL, "p=$(cat \"$1/run/$2.pid\" 2>/dev/null)" },
		{ REMOTE_RELEASE, "c=$(cat \"$1/lock/owner\" 2>/dev/null)\n" },
		{ REMOTE_REBOOT, "setsid -f sh -c 'sleep 2; systemctl reboot'" },
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
	return unit_done();
}
