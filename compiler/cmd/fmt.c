/* cmd_fmt: the fmt command, front/format's canonical layout on files. */
#include "commands.h"
#include "diag.h"
#include "format.h"
#include "fsutil.h"
#include "strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum fmt_mode { FMT_PRINT, FMT_WRITE, FMT_CHECK };

static void fmt_help(FILE *out)
{
	fputs("usage: clusterc fmt [-w | --check] FILE...\n\n"
	      "Writes each .cluster FILE in the one canonical layout, comments kept;\n"
	      "formatting never changes what a file means.\n"
	      "  (no flag)  print the formatted text to stdout\n"
	      "  -w         rewrite each file in place (atomically, its mode kept)\n"
	      "  --check    change nothing; name each file that would change\n"
	      "Exit status: 0 ok (with --check: every file is formatted), 1 a file\n"
	      "has syntax errors (or, with --check, would change), 2 usage or I/O.\n", out);
}

/* Formats one file as mode says. Returns its exit status. */
static int fmt_one(const char *path, enum fmt_mode mode)
{
	struct strbuf text = STRBUF_INIT;
	struct stat st;
	if (strbuf_read_file(&text, path) || stat(path, &st)) {
		fprintf(stderr, "clusterc fmt: cannot read '%s': %s\n", path, strerror(errno));
		strbuf_release(&text);
		return 2;
	}
	struct diag d;
	diag_init(&d);
	diag_set_color_auto(&d, stderr);
	size_t len = text.len;
	int32_t file = diag_add_source(&d, path, strbuf_detach(&text, NULL), len);
	const struct source *src = diag_source(&d, file);
	struct strbuf out = STRBUF_INIT;
	int rc = 0;
	if (!format_source(&d, file, &out)) {
		diag_print(&d, stderr);
		rc = 1;
	} else if (mode == FMT_PRINT) {
		fwrite(out.buf, 1, out.len, stdout);
	} else if (out.len != src->len || memcmp(out.buf, src->text, out.len)) {
		if (mode == FMT_CHECK) {
			printf("%s\n", path);
			rc = 1;
		} else if (write_file_atomic_mode(path, out.buf, out.len, st.st_mode & 07777)) {
			fprintf(stderr, "clusterc fmt: cannot write '%s': %s\n", path, strerror(errno));
			rc = 2;
		}
	}
	strbuf_release(&out);
	diag_release(&d);
	return rc;
}

int cmd_fmt(int argc, char **argv)
{
	enum fmt_mode mode = FMT_PRINT;
	int first = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_help_flag(a)) {
			fmt_help(stdout);
			return 0;
		} else if (!strcmp(a, "-w") || !strcmp(a, "--check")) {
			enum fmt_mode m = a[1] == 'w' ? FMT_WRITE : FMT_CHECK;
			if (mode != FMT_PRINT && mode != m) {
				fputs("clusterc fmt: -w and --check exclude each other\n", stderr);
				return 2;
			}
			mode = m;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "clusterc fmt: unknown option '%s'\n", a);
			fmt_help(stderr);
			return 2;
		} else if (!first) {
			first = i;
		}
	}
	if (!first) {
		fmt_help(stderr);
		return 2;
	}
	int rc = 0;
	for (int i = first; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1])
			continue;
		int r = fmt_one(argv[i], mode);
		if (r > rc)
			rc = r;
	}
	return rc;
}
