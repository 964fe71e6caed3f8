/* redact: the values no log, event or summary may show, and the forms they
 * take on the way: a step that runs `set -x`, prints JSON, pipes a secret
 * through `base64` (wrapped at 76 columns) or `openssl` (64), or a file with
 * CRLF line ends shows the secret in another shape than the operator wrote. */
#include "run.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Very short values would redact ordinary words; 3 bytes is the floor for a
 * whole value. A part of one (a line, a base64 line) needs more to be its own. */
#define WHOLE_MIN 3
#define PART_MIN 8

/* Needles are kept sorted by first byte, longest first, so apply tries only
 * those that can start at a byte and takes the first (longest) that matches. */
static void reindex(struct redactor *r)
{
	memset(r->first, 0, sizeof(r->first));
	for (size_t i = 0; i < r->n; i++)
		r->first[(unsigned char)r->needles[i][0] + 1]++;
	for (size_t c = 1; c < 257; c++)
		r->first[c] += r->first[c - 1];
}

static bool goes_before(const struct redactor *r, size_t i, const char *v, size_t len)
{
	unsigned char a = (unsigned char)r->needles[i][0], b = (unsigned char)v[0];
	return a != b ? a < b : r->lens[i] >= len;
}

void redact_add(struct redactor *r, const char *label, const char *value, size_t len)
{
	if (len < WHOLE_MIN)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->lens[i] == len && !memcmp(r->needles[i], value, len))
			return;
	XGROW(r->needles, r->cap, r->n + 1);
	r->labels = xrealloc(r->labels, r->cap * sizeof(char *));
	r->lens = xrealloc(r->lens, r->cap * sizeof(size_t));
	size_t at = 0;
	while (at < r->n && goes_before(r, at, value, len))
		at++;
	memmove(r->needles + at + 1, r->needles + at, (r->n - at) * sizeof(char *));
	memmove(r->labels + at + 1, r->labels + at, (r->n - at) * sizeof(char *));
	memmove(r->lens + at + 1, r->lens + at, (r->n - at) * sizeof(size_t));
	r->needles[at] = xstrndup(value, len);
	r->labels[at] = xstrdup(label);
	r->lens[at] = len;
	r->n++;
	reindex(r);
}

static void add_part(struct redactor *r, const char *label, const char *p, size_t len)
{
	if (len >= PART_MIN)
		redact_add(r, label, p, len);
}

/* Each line (split at \n or \r) of a multi-line value. */
static void add_lines(struct redactor *r, const char *label, const char *v, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++)
		if (i == len || v[i] == '\n' || v[i] == '\r') {
			if (start > 0 || i < len)
				add_part(r, label, v + start, i - start);
			start = i + 1;
		}
}

/* The value with every \n as \r\n (strip = false) or every \r\n as \n. */
static void add_line_ends(struct redactor *r, const char *label, const char *v, size_t len,
			  bool strip)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (strip && v[i] == '\r' && i + 1 < len && v[i + 1] == '\n')
			continue;
		if (!strip && v[i] == '\n' && (i == 0 || v[i - 1] != '\r'))
			strbuf_addch(&sb, '\r');
		strbuf_addch(&sb, v[i]);
	}
	if (sb.len != len)
		redact_add(r, label, sb.buf, sb.len);
	strbuf_release(&sb);
}

/* bash -x prints a word with spaces or quotes in single quotes, each ' as '\''. */
static void add_xtrace(struct redactor *r, const char *label, const char *v, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '\'')
			strbuf_addstr(&sb, "'\\''");
		else
			strbuf_addch(&sb, v[i]);
	}
	if (sb.len != len)
		redact_add(r, label, sb.buf, sb.len);
	strbuf_release(&sb);
}

/* Inside a JSON string: as jansson writes it, with \uXXXX for non-ASCII
 * (JSON_ENSURE_ASCII), and each with lower-case hex (Python's json.dumps, jq). */
static void add_json(struct redactor *r, const char *label, const char *v, size_t len)
{
	json_t *s = json_stringn_nocheck(v, len);
	for (int form = 0; form < 4; form++) {
		char *t = json_dumps(s, JSON_ENCODE_ANY | (form & 1 ? JSON_ENSURE_ASCII : 0));
		size_t tl = t ? strlen(t) : 0;
		for (size_t i = 0; form & 2 && i + 6 <= tl; i++)
			if (t[i] == '\\' && t[i + 1] == 'u')
				for (size_t h = i + 2; h < i + 6; h++)
					t[h] = (char)tolower((unsigned char)t[h]);
		if (tl >= 2 && (tl - 2 != len || memcmp(t + 1, v, len)))
			redact_add(r, label, t + 1, tl - 2);
		free(t);
	}
	json_decref(s);
}

/* base64 of the value: whole, wrapped at 76 (base64(1)) and 64 (PEM, openssl)
 * columns, and, for a value inside a longer encoded text, the stable middle
 * of its encoding at each of the three byte offsets. */
static void add_base64(struct redactor *r, const char *label, const char *v, size_t len)
{
	struct strbuf b = STRBUF_INIT;
	base64_encode(&b, v, len);
	redact_add(r, label, b.buf, b.len);
	static const size_t widths[] = { 76, 64 };
	for (size_t w = 0; w < 2; w++)
		for (size_t i = 0; i < b.len; i += widths[w])
			add_part(r, label, b.buf + i, b.len - i < widths[w] ? b.len - i : widths[w]);
	for (size_t off = 0; off < 3; off++) {
		unsigned char *shifted = xcalloc(len + off + 1, 1);
		memcpy(shifted + off, v, len);
		strbuf_reset(&b);
		base64_encode(&b, shifted, len + off);
		free(shifted);
		size_t from = off ? 4 : 0, to = (len + off) / 3 * 4;
		if (to > from)
			add_part(r, label, b.buf + from, to - from);
	}
	strbuf_release(&b);
}

static void add_forms(struct redactor *r, const char *label, const char *v, size_t len)
{
	redact_add(r, label, v, len);
	add_xtrace(r, label, v, len);
	add_json(r, label, v, len);
	add_base64(r, label, v, len);
}

void redact_add_secret(struct redactor *r, const char *label, const char *v, size_t len)
{
	add_forms(r, label, v, len);
	/* Values often end with a newline; hide the bare value too. */
	size_t bare = len;
	while (bare && (v[bare - 1] == '\n' || v[bare - 1] == '\r'))
		bare--;
	if (bare != len)
		add_forms(r, label, v, bare);
	else if (len) {
		/* `echo "$SECRET" | base64` encodes it with a newline. */
		struct strbuf nl = STRBUF_INIT;
		strbuf_add(&nl, v, len);
		strbuf_addch(&nl, '\n');
		add_base64(r, label, nl.buf, nl.len);
		strbuf_release(&nl);
	}
	add_line_ends(r, label, v, bare, false);
	add_line_ends(r, label, v, bare, true);
	add_lines(r, label, v, bare);
}

void redact_add_value(struct redactor *r, const char *label, const char *b64)
{
	struct strbuf plain = STRBUF_INIT;
	redact_add(r, label, b64, strlen(b64));
	if (!base64_decode(&plain, b64, strlen(b64)))
		redact_add_secret(r, label, plain.buf, plain.len);
	strbuf_release(&plain);
}

void redact_apply(const struct redactor *r, struct strbuf *sb)
{
	if (!r->n || !sb->len)
		return;
	struct strbuf out = STRBUF_INIT;
	size_t i = 0;
	while (i < sb->len) {
		unsigned char c = (unsigned char)sb->buf[i];
		size_t best = SIZE_MAX;
		for (size_t k = r->first[c]; k < r->first[c + 1] && best == SIZE_MAX; k++)
			if (r->lens[k] <= sb->len - i && !memcmp(sb->buf + i, r->needles[k], r->lens[k]))
				best = k;
		if (best != SIZE_MAX) {
			strbuf_addf(&out, "[redacted %s]", r->labels[best]);
			i += r->lens[best];
		} else {
			strbuf_addch(&out, sb->buf[i]);
			i++;
		}
	}
	strbuf_reset(sb);
	strbuf_add(sb, out.buf, out.len);
	strbuf_release(&out);
}

void redact_release(struct redactor *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->needles[i]);
		free(r->labels[i]);
	}
	free(r->needles);
	free(r->labels);
	free(r->lens);
	memset(r, 0, sizeof(*r));
}
