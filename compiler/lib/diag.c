#include "diag.h"
#include "quote.h"
#include "strbuf.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
	d->last_top = SIZE_MAX;
}

void diag_release(struct diag *d)
{
	for (size_t i = 0; i < d->nsources; i++) {
		free(d->sources[i].path);
		free(d->sources[i].text);
		free(d->sources[i].lines);
	}
	free(d->sources);
	for (size_t i = 0; i < d->nentries; i++)
		free(d->entries[i].msg);
	free(d->entries);
	diag_init(d);
}

void diag_set_color_auto(struct diag *d, FILE *stream)
{
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	d->color = isatty(fileno(stream)) && !(nc && *nc) &&
		   !(term && !strcmp(term, "dumb"));
}

int32_t diag_add_source(struct diag *d, const char *path, char *text, size_t len)
{
	XGROW(d->sources, d->sources_cap, d->nsources + 1);
	struct source *s = &d->sources[d->nsources];
	s->path = xstrdup(path);
	s->text = text;
	s->len = len;
	size_t cap = 0;
	s->lines = NULL;
	s->nlines = 0;
	XGROW(s->lines, cap, 1);
	s->lines[s->nlines++] = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			XGROW(s->lines, cap, s->nlines + 1);
			s->lines[s->nlines++] = (uint32_t)(i + 1);
		}
	}
	return (int32_t)d->nsources++;
}

const struct source *diag_source(const struct diag *d, int32_t id)
{
	if (id < 0 || (size_t)id >= d->nsources)
		return NULL;
	return &d->sources[id];
}

static size_t line_index(const struct source *s, uint32_t off)
{
	size_t lo = 0, hi = s->nlines;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->lines[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void diag_linecol(const struct diag *d, struct loc loc, size_t *line, size_t *col)
{
	const struct source *s = diag_source(d, loc.file);
	if (!s) {
		*line = *col = 0;
		return;
	}
	size_t li = line_index(s, loc.start);
	*line = li + 1;
	*col = loc.start - s->lines[li] + 1;
}

static void add_entry(struct diag *d, enum diag_level level, struct loc loc,
		      const char *code, const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_vaddf(&sb, fmt, ap);
	/* A value quoted in the message must not reorder the terminal's line:
	 * each bidirectional control becomes '?' (C0118 names the character). */
	unsigned long cp;
	for (size_t at = 0; (at += utf8_bidi_at(sb.buf + at, sb.len - at, &cp)) < sb.len;) {
		size_t w = utf8_width(cp);
		memmove(sb.buf + at + 1, sb.buf + at + w, sb.len - at - w + 1);
		sb.buf[at] = '?';
		sb.len -= w - 1;
		at++;
	}
	XGROW(d->entries, d->entries_cap, d->nentries + 1);
	struct diag_entry *e = &d->entries[d->nentries];
	e->level = level;
	e->loc = loc;
	e->code = code;
	e->msg = strbuf_detach(&sb, NULL);
	e->seq = d->nentries;
	e->parent = SIZE_MAX;
	if (level == DIAG_NOTE || level == DIAG_HINT)
		e->parent = d->last_top;
	else
		d->last_top = d->nentries;
	d->nentries++;
}

void diag_error(struct diag *d, struct loc loc, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_entry(d, DIAG_ERROR, loc, code, fmt, ap);
	va_end(ap);
	d->errors++;
}

void diag_warning(struct diag *d, struct loc loc, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_entry(d, d->werror ? DIAG_ERROR : DIAG_WARNING, loc, code, fmt, ap);
	va_end(ap);
	if (d->werror)
		d->errors++;
	else
		d->warnings++;
}

void diag_note(struct diag *d, struct loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_entry(d, DIAG_NOTE, loc, NULL, fmt, ap);
	va_end(ap);
}

void diag_hint(struct diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_entry(d, DIAG_HINT, LOC_NONE, NULL, fmt, ap);
	va_end(ap);
}

bool diag_failed(const struct diag *d)
{
	return d->errors > 0;
}

/* Top-level entries sort by file, then offset, then insertion; children stay
 * right after their parent in insertion order. */
static const struct diag *sort_ctx;

static int cmp_top(const void *a, const void *b)
{
	const struct diag_entry *x = &sort_ctx->entries[*(const size_t *)a];
	const struct diag_entry *y = &sort_ctx->entries[*(const size_t *)b];
	/* Entries without a location (whole-run problems) come last. */
	int32_t fx = x->loc.file < 0 ? INT32_MAX : x->loc.file;
	int32_t fy = y->loc.file < 0 ? INT32_MAX : y->loc.file;
	if (fx != fy)
		return fx < fy ? -1 : 1;
	if (x->loc.start != y->loc.start)
		return x->loc.start < y->loc.start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

#define C_BOLD "\033[1m"
#define C_RED "\033[1;31m"
#define C_MAG "\033[1;35m"
#define C_CYAN "\033[1;36m"
#define C_GREEN "\033[1;32m"
#define C_RESET "\033[0m"

/* The length of the well-formed UTF-8 sequence at s[i] (1 for ASCII), or 0
 * when the bytes there are not UTF-8. */
static size_t utf8_seq(const char *s, size_t i, size_t end)
{
	unsigned char c = (unsigned char)s[i];
	if (c < 0x80)
		return 1;
	size_t len = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
	if (!len || i + len > end)
		return 0;
	for (size_t k = 1; k < len; k++)
		if (((unsigned char)s[i + k] & 0xC0) != 0x80)
			return 0;
	unsigned char c1 = (unsigned char)s[i + 1];
	if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
	    (c == 0xF4 && c1 >= 0x90))
		return 0;
	return len;
}

static void print_snippet(const struct diag *d, const struct diag_entry *e, FILE *out)
{
	const struct source *s = diag_source(d, e->loc.file);
	if (!s)
		return;
	size_t li = line_index(s, e->loc.start);
	size_t ls = s->lines[li];
	size_t le = ls;
	while (le < s->len && s->text[le] != '\n')
		le++;
	if (le > ls && s->text[le - 1] == '\r')
		le--;
	/* Very long lines (a 1 MB line is a test case) are cut around the spot. */
	size_t from = ls, to = le;
	size_t col = e->loc.start - ls;
	if (to - from > 200) {
		from = col > 80 ? e->loc.start - 80 : ls;
		to = from + 200 < le ? from + 200 : le;
	}
	/* Start on a character boundary when the line was cut. */
	while (from > ls && from < le && ((unsigned char)s->text[from] & 0xC0) == 0x80)
		from--;
	/* Each character is one column: a UTF-8 sequence is copied whole, a byte
	 * that is not UTF-8, a control byte or a bidirectional control is shown
	 * as '?', so that the caret lines up and nothing garbles or reorders the
	 * terminal. */
	struct strbuf line = STRBUF_INIT, mark = STRBUF_INIT;
	size_t span_end = e->loc.end < le ? e->loc.end : le;
	if (span_end > to)
		span_end = to;
	size_t width = 0;
	for (size_t i = from; i < to;) {
		unsigned char c = (unsigned char)s->text[i];
		size_t n = utf8_seq(s->text, i, to);
		unsigned long bidi;
		if (c == '\t')
			strbuf_addch(&line, '\t');
		else if (n == 0 || c < 0x20 || c == 0x7f || utf8_bidi_at(s->text + i, n, &bidi) == 0)
			strbuf_addch(&line, '?');
		else
			strbuf_add(&line, s->text + i, n);
		if (i < e->loc.start)
			strbuf_addch(&mark, c == '\t' ? '\t' : ' ');
		else if (i < span_end)
			width++;
		i += n ? n : 1;
	}
	fprintf(out, "  %s\n  ", line.buf);
	fputs(mark.buf, out);
	if (d->color)
		fputs(C_GREEN, out);
	fputc('^', out);
	for (size_t i = 1; i < width; i++)
		fputc('~', out);
	if (d->color)
		fputs(C_RESET, out);
	fputc('\n', out);
	strbuf_release(&line);
	strbuf_release(&mark);
}

static void print_entry(const struct diag *d, const struct diag_entry *e, FILE *out)
{
	static const char *const names[] = { "error", "warning", "note", "hint" };
	static const char *const colors[] = { C_RED, C_MAG, C_CYAN, C_CYAN };
	const struct source *s = diag_source(d, e->loc.file);
	if (d->color)
		fputs(C_BOLD, out);
	if (s) {
		size_t line, col;
		diag_linecol(d, e->loc, &line, &col);
		fprintf(out, "%s:%zu:%zu: ", s->path, line, col);
	} else if (e->level != DIAG_HINT) {
		fputs("clusterc: ", out);
	} else {
		fputs("  ", out);
	}
	char code[16] = "";
	if (e->code)
		snprintf(code, sizeof(code), "[%s]", e->code);
	if (d->color)
		fprintf(out, "%s%s%s:" C_RESET C_BOLD " %s" C_RESET "\n", colors[e->level],
			names[e->level], code, e->msg);
	else
		fprintf(out, "%s%s: %s\n", names[e->level], code, e->msg);
	print_snippet(d, e, out);
}

void diag_print(struct diag *d, FILE *out)
{
	size_t ntop = 0;
	size_t *top = xcalloc(d->nentries, sizeof(*top));
	for (size_t i = 0; i < d->nentries; i++)
		if (d->entries[i].parent == SIZE_MAX)
			top[ntop++] = i;
	sort_ctx = d;
	qsort(top, ntop, sizeof(*top), cmp_top);
	size_t printed_errors = 0;
	for (size_t t = 0; t < ntop; t++) {
		const struct diag_entry *e = &d->entries[top[t]];
		if (e->level == DIAG_ERROR && d->max_errors && printed_errors >= d->max_errors)
			continue;
		if (e->level == DIAG_ERROR)
			printed_errors++;
		print_entry(d, e, out);
		for (size_t i = top[t] + 1; i < d->nentries && d->entries[i].parent == top[t]; i++)
			print_entry(d, &d->entries[i], out);
	}
	free(top);
	if (d->max_errors && d->errors > d->max_errors)
		fprintf(out, "clusterc: %zu more errors not shown\n", d->errors - d->max_errors);
	if (d->errors || d->warnings) {
		struct strbuf sb = STRBUF_INIT;
		if (d->warnings)
			strbuf_addf(&sb, "%zu warning%s", d->warnings, d->warnings == 1 ? "" : "s");
		if (d->warnings && d->errors)
			strbuf_addstr(&sb, " and ");
		if (d->errors)
			strbuf_addf(&sb, "%zu error%s", d->errors, d->errors == 1 ? "" : "s");
		fprintf(out, "%s generated.\n", sb.buf);
		strbuf_release(&sb);
	}
	fflush(out);
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	size_t r = row[lb];
	free(row);
	return r;
}

const char *diag_suggest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	size_t wl = strlen(word);
	if (wl > 64)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t dist = edit_distance(word, candidates[i]);
		if (dist < best_d) {
			best_d = dist;
			best = candidates[i];
		}
	}
	/* Allow one edit per three letters, at least one and at most three. */
	size_t limit = wl / 3;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	return best_d <= limit ? best : NULL;
}
