/* cmd_explain: `clusterc explain CODE` prints what a diagnostic means and how
 * to fix it; `--list` prints every code with its title. */
#include "commands.h"
#include "diag.h"
#include "diag_codes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void explain_help(FILE *out)
{
	fputs("usage: clusterc explain CODE | --list\n\n"
	      "Prints what the diagnostic CODE (such as C0301, shown as error[C0301])\n"
	      "means and how to fix it. --list prints every code and its title.\n"
	      "Exit status: 0 found, 1 unknown code, 2 usage.\n", out);
}

/* Prints one line of prose wrapped at 72 columns. */
static void print_wrapped(const char *text, size_t len)
{
	size_t col = 0;
	const char *end = text + len;
	while (text < end) {
		size_t word = 0;
		while (text + word < end && text[word] != ' ')
			word++;
		if (col && col + 1 + word > 72) {
			putchar('\n');
			col = 0;
		} else if (col) {
			putchar(' ');
			col++;
		}
		fwrite(text, 1, word, stdout);
		col += word;
		text += word;
		while (text < end && *text == ' ')
			text++;
	}
	putchar('\n');
}

/* An explanation is lines of prose, wrapped here, and example lines that
 * start with two spaces, printed as they are. */
static void print_explanation(const char *text)
{
	while (*text) {
		size_t len = strcspn(text, "\n");
		if (!strncmp(text, "  ", 2) || len == 0)
			printf("%.*s\n", (int)len, text);
		else
			print_wrapped(text, len);
		text += len;
		if (*text == '\n')
			text++;
	}
}

/* Codes are printed upper-case; accept c0301 as typed from memory. */
static void upcase(const char *arg, char *buf, size_t size)
{
	size_t i = 0;
	for (; arg[i] && i + 1 < size; i++)
		buf[i] = (char)toupper((unsigned char)arg[i]);
	buf[i] = '\0';
}

static int unknown_code(const char *arg, const char *code)
{
	const char **names = malloc(diag_ncodes * sizeof(*names));
	if (!names)
		return 2;
	for (size_t i = 0; i < diag_ncodes; i++)
		names[i] = diag_codes[i].code;
	const char *near = diag_suggest(code, names, diag_ncodes);
	fprintf(stderr, "clusterc: unknown diagnostic code '%s'\n", arg);
	if (near)
		fprintf(stderr, "  hint: did you mean '%s'? (%s)\n", near, diag_code_find(near)->title);
	fputs("  hint: 'clusterc explain --list' prints every code\n", stderr);
	free(names);
	return 1;
}

int cmd_explain(int argc, char **argv)
{
	if (argc != 2) {
		explain_help(stderr);
		return 2;
	}
	if (is_help_flag(argv[1])) {
		explain_help(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < diag_ncodes; i++)
			printf("%s  %s\n", diag_codes[i].code, diag_codes[i].title);
		return 0;
	}
	char upper[16];
	upcase(argv[1], upper, sizeof(upper));
	const struct diag_code *c = diag_code_find(upper);
	if (!c)
		return unknown_code(argv[1], upper);
	printf("%s: %s\n\n", c->code, c->title);
	print_explanation(c->explanation);
	return 0;
}
