/* Unit tests for diag.c: byte offsets to line:column, the snippet with its
 * caret and tildes (tabs, UTF-8, bytes that are not UTF-8, long lines), the
 * order of printed diagnostics, notes and hints under their error, "did you
 * mean" bounds, --werror, and the wording of the count line.
 * TAP output (unit.h). */
#include "diag.h"
#include "strbuf.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int32_t add(struct diag *d, const char *path, const char *text)
{
	size_t n = strlen(text);
	char *copy = malloc(n + 1);
	memcpy(copy, text, n + 1);
	return diag_add_source(d, path, copy, n);
}

/* Prints d into a string the caller frees. */
static char *printed(struct diag *d)
{
	struct strbuf sb = STRBUF_INIT;
	FILE *f = tmpfile();
	if (!f)
		return strbuf_detach(&sb, NULL);
	diag_print(d, f);
	rewind(f);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strbuf_add(&sb, chunk, n);
	fclose(f);
	return strbuf_detach(&sb, NULL);
}

static void expect_print(struct diag *d, const char *want)
{
	char *got = printed(d);
	CHECK(!strcmp(got, want), "printed:\n%s\nwant:\n%s", got, want);
	free(got);
}

static struct loc at(int32_t f, uint32_t s, uint32_t e)
{
	return (struct loc){ f, s, e };
}

static void test_linecol(void)
{
	struct diag d;
	diag_init(&d);
	int32_t f = add(&d, "a.cluster", "ab\ncd\n\nxyz");
	size_t line, col;
	static const struct { uint32_t off; size_t line, col; } cases[] = {
		{ 0, 1, 1 }, { 1, 1, 2 }, { 2, 1, 3 }, /* the newline itself is on line 1 */
		{ 3, 2, 1 }, { 4, 2, 2 }, { 6, 3, 1 }, { 7, 4, 1 }, { 9, 4, 3 },
		{ 10, 4, 4 }, /* one past the end: after the last character */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		diag_linecol(&d, at(f, cases[i].off, cases[i].off), &line, &col);
		CHECK(line == cases[i].line && col == cases[i].col, "offset %u: %zu:%zu, want %zu:%zu",
		      cases[i].off, line, col, cases[i].line, cases[i].col);
	}
	diag_linecol(&d, LOC_NONE, &line, &col);
	CHECK(line == 0 && col == 0, "no location: %zu:%zu", line, col);
	int32_t empty = add(&d, "empty.cluster", "");
	diag_linecol(&d, at(empty, 0, 0), &line, &col);
	CHECK(line == 1 && col == 1, "empty file: %zu:%zu", line, col);
	CHECK(diag_source(&d, 2) == NULL && diag_source(&d, -1) == NULL, "unknown source ids");
	diag_release(&d);
}

static void test_caret(void)
{
	struct diag d;
	diag_init(&d);
	int32_t f = add(&d, "c.cluster", "node cp-1 {\n  ip = 10.0.0.300\n}\n");
	diag_error(&d, at(f, 19, 29), NULL, "invalid IPv4 address");
	diag_error(&d, at(f, 0, 4), NULL, "one");
	diag_error(&d, at(f, 11, 11), NULL, "empty span");
	expect_print(&d,
		"c.cluster:1:1: error: one\n"
		"  node cp-1 {\n"
		"  ^~~~\n"
		"c.cluster:1:12: error: empty span\n"
		"  node cp-1 {\n"
		"             ^\n"
		"c.cluster:2:8: error: invalid IPv4 address\n"
		"    ip = 10.0.0.300\n"
		"         ^~~~~~~~~~\n"
		"3 errors generated.\n");
	diag_release(&d);
}

static void test_caret_tabs_utf8(void)
{
	struct diag d;
	diag_init(&d);
	/* A tab before the spot is kept so the caret lines up; "é" is one
	 * column; an invalid byte shows as '?' and is one column too. */
	int32_t f = add(&d, "t.cluster", "\tx = \"\xc3\xa9\" \xff @\r\n");
	diag_error(&d, at(f, 12, 13), NULL, "stray");
	diag_error(&d, at(f, 5, 9), NULL, "string");
	expect_print(&d,
		"t.cluster:1:6: error: string\n"
		"  \tx = \"\xc3\xa9\" ? @\n"
		"  \t    ^~~\n"
		"t.cluster:1:13: error: stray\n"
		"  \tx = \"\xc3\xa9\" ? @\n"
		"  \t          ^\n"
		"2 errors generated.\n");
	diag_release(&d);
}

static void test_control_bytes(void)
{
	struct diag d;
	diag_init(&d);
	char text[] = "a\x01" "b\x7f" "c";
	int32_t f = add(&d, "b.cluster", text);
	diag_error(&d, at(f, 3, 4), NULL, "del");
	expect_print(&d,
		"b.cluster:1:4: error: del\n"
		"  a?b?c\n"
		"     ^\n"
		"1 error generated.\n");
	diag_release(&d);
}

static void test_long_line(void)
{
	struct diag d;
	diag_init(&d);
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 100000; i++)
		strbuf_addch(&sb, 'a' + i % 26);
	size_t spot = sb.len;
	strbuf_addstr(&sb, "@tail");
	size_t len = sb.len;
	int32_t f = diag_add_source(&d, "long.cluster", strbuf_detach(&sb, NULL), len);
	diag_error(&d, at(f, (uint32_t)spot, (uint32_t)spot + 1), NULL, "stray");
	char *got = printed(&d);
	/* The snippet is cut to 80 characters before the spot and 200 in all. */
	char *nl1 = strchr(got, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	char *nl3 = nl2 ? strchr(nl2 + 1, '\n') : NULL;
	CHECK(nl1 && nl2 && nl3, "three lines");
	if (nl1 && nl2 && nl3) {
		CHECK(!strncmp(got, "long.cluster:1:100001: error: stray\n", (size_t)(nl1 - got + 1)),
		      "header: %.*s", (int)(nl1 - got), got);
		CHECK(nl2 - nl1 - 1 == 2 + 85, "snippet width %ld", (long)(nl2 - nl1 - 1));
		CHECK(nl3 - nl2 - 1 == 2 + 80 + 1 && nl3[-1] == '^', "caret at column 81 of the cut");
	}
	free(got);
	diag_release(&d);
}

static void test_order(void)
{
	struct diag d;
	diag_init(&d);
	int32_t a = add(&d, "a.cluster", "one\ntwo\nthree\n");
	int32_t b = add(&d, "b.cluster", "four\n");
	/* Reported out of order; printed by file, then offset, then report order. */
	diag_error(&d, at(b, 0, 4), NULL, "in b");
	diag_error(&d, LOC_NONE, NULL, "no location");
	diag_error(&d, at(a, 8, 13), NULL, "third line");
	diag_note(&d, at(b, 0, 4), "note of third line, in b");
	diag_hint(&d, "hint of third line");
	diag_warning(&d, at(a, 0, 3), NULL, "first line");
	diag_error(&d, at(a, 0, 3), NULL, "first line again");
	expect_print(&d,
		"a.cluster:1:1: warning: first line\n"
		"  one\n"
		"  ^~~\n"
		"a.cluster:1:1: error: first line again\n"
		"  one\n"
		"  ^~~\n"
		"a.cluster:3:1: error: third line\n"
		"  three\n"
		"  ^~~~~\n"
		"b.cluster:1:1: note: note of third line, in b\n"
		"  four\n"
		"  ^~~~\n"
		"  hint: hint of third line\n"
		"b.cluster:1:1: error: in b\n"
		"  four\n"
		"  ^~~~\n"
		"clusterc: error: no location\n"
		"1 warning and 4 errors generated.\n");
	diag_release(&d);
}

static void test_count_line(void)
{
	struct diag d;
	diag_init(&d);
	expect_print(&d, "");
	CHECK(!diag_failed(&d), "nothing: not failed");
	diag_warning(&d, LOC_NONE, NULL, "w");
	CHECK(!diag_failed(&d), "a warning alone does not fail");
	expect_print(&d, "clusterc: warning: w\n1 warning generated.\n");
	diag_warning(&d, LOC_NONE, NULL, "w2");
	expect_print(&d, "clusterc: warning: w\nclusterc: warning: w2\n2 warnings generated.\n");
	diag_release(&d);

	diag_init(&d);
	diag_error(&d, LOC_NONE, NULL, "e");
	CHECK(diag_failed(&d), "an error fails");
	expect_print(&d, "clusterc: error: e\n1 error generated.\n");
	diag_error(&d, LOC_NONE, NULL, "e2");
	diag_warning(&d, LOC_NONE, NULL, "w");
	expect_print(&d, "clusterc: error: e\nclusterc: error: e2\nclusterc: warning: w\n"
			 "1 warning and 2 errors generated.\n");
	diag_release(&d);

	/* --werror: warnings become errors and are counted as such. */
	diag_init(&d);
	d.werror = true;
	diag_warning(&d, LOC_NONE, NULL, "w");
	CHECK(diag_failed(&d), "werror fails");
	expect_print(&d, "clusterc: error: w\n1 error generated.\n");
	diag_release(&d);

	/* --max-errors N: the rest are counted, not shown. */
	diag_init(&d);
	d.max_errors = 1;
	diag_error(&d, LOC_NONE, NULL, "e1");
	diag_error(&d, LOC_NONE, NULL, "e2");
	diag_error(&d, LOC_NONE, NULL, "e3");
	expect_print(&d, "clusterc: error: e1\nclusterc: 2 more errors not shown\n3 errors generated.\n");
	diag_release(&d);
}

static void test_suggest(void)
{
	static const char *const words[] = { "cluster", "proxmox", "image", "network", "node", "ceph",
					     "argocd", "app", "monitoring", "versions" };
	size_t n = sizeof(words) / sizeof(words[0]);
	const char *s;
	/* One edit per three letters, at least one, at most three. */
	s = diag_suggest("argcd", words, n);
	CHECK(s && !strcmp(s, "argocd"), "argcd: %s", s ? s : "(none)");
	s = diag_suggest("nod", words, n);
	CHECK(s && !strcmp(s, "node"), "nod: %s", s ? s : "(none)");
	s = diag_suggest("nodes", words, n);
	CHECK(s && !strcmp(s, "node"), "nodes: %s", s ? s : "(none)");
	s = diag_suggest("clustr", words, n);
	CHECK(s && !strcmp(s, "cluster"), "clustr: %s", s ? s : "(none)");
	s = diag_suggest("monitorign", words, n);
	CHECK(s && !strcmp(s, "monitoring"), "monitorign (two edits in ten letters): %s", s ? s : "(none)");
	CHECK(diag_suggest("mntrng", words, n) == NULL, "mntrng: four edits in six letters is too many");
	CHECK(diag_suggest("kubelet", words, n) == NULL, "kubelet: nothing close");
	CHECK(diag_suggest("xy", words, n) == NULL, "two letters, two edits from 'app'");
	s = diag_suggest("ap", words, n);
	CHECK(s && !strcmp(s, "app"), "ap: one edit allowed even for short words");
	/* Three edits at most, however long the word. */
	static const char *const longw[] = { "gpu_temperature_alert" };
	s = diag_suggest("gpu_temprature_alrt", longw, 1);
	CHECK(s != NULL, "two edits in a long word");
	CHECK(diag_suggest("gpu_tmprtre_alrt", longw, 1) == NULL, "five edits is too many");
	CHECK(diag_suggest("anything", words, 0) == NULL, "no candidates");
	CHECK(diag_suggest("", words, n) == NULL, "empty word");
	char big[200];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(diag_suggest(big, words, n) == NULL, "very long words are not compared");
	/* Ties go to the first candidate. */
	static const char *const tie[] = { "bat", "cat" };
	s = diag_suggest("aat", tie, 2);
	CHECK(s && !strcmp(s, "bat"), "tie: %s", s ? s : "(none)");
}

static void test_color(void)
{
	struct diag d;
	diag_init(&d);
	d.color = true;
	int32_t f = add(&d, "c.cluster", "x\n");
	diag_error(&d, at(f, 0, 1), NULL, "bad");
	char *got = printed(&d);
	CHECK(strstr(got, "\033[1;31merror:") != NULL, "red error: %s", got);
	CHECK(strstr(got, "\033[1;32m^") != NULL, "green caret");
	CHECK(strstr(got, "1 error generated.\n") != NULL, "count line");
	free(got);
	diag_release(&d);
	/* diag_set_color_auto on a file that is not a terminal: no colour. */
	diag_init(&d);
	FILE *tmp = tmpfile();
	d.color = true;
	diag_set_color_auto(&d, tmp);
	CHECK(!d.color, "a file is not a terminal");
	fclose(tmp);
	diag_release(&d);
}

int main(void)
{
	unit_test("linecol: offsets to line and column", test_linecol);
	unit_test("snippet: caret and tildes under the span", test_caret);
	unit_test("snippet: tabs, UTF-8 and invalid bytes keep the caret aligned", test_caret_tabs_utf8);
	unit_test("snippet: control bytes shown as '?'", test_control_bytes);
	unit_test("snippet: a 100 kB line is cut around the spot", test_long_line);
	unit_test("order: by file and offset; notes and hints stay with their error", test_order);
	unit_test("count line: wording, --werror, --max-errors", test_count_line);
	unit_test("did you mean: distance bounds", test_suggest);
	unit_test("colour: escapes only when asked", test_color);
	return unit_done();
}
