#include "quote.h"

#include <string.h>

static bool sh_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("_./:@%+=,-", c));
}

void sq_quote_n(struct strbuf *sb, const char *s, size_t len)
{
	bool bare = len > 0;
	for (size_t i = 0; bare && i < len; i++)
		bare = sh_safe((unsigned char)s[i]);
	if (bare) {
		strbuf_add(sb, s, len);
		return;
	}
	strbuf_grow(sb, len + 2);
	strbuf_addch(sb, '\'');
	size_t from = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\'')
			continue;
		/* Close the quote, add an escaped quote, reopen: the only way to
		 * put a ' inside a single-quoted shell word. */
		strbuf_add(sb, s + from, i - from);
		strbuf_addstr(sb, "'\\''");
		from = i + 1;
	}
	strbuf_add(sb, s + from, len - from);
	strbuf_addch(sb, '\'');
}

void sq_quote(struct strbuf *sb, const char *s)
{
	sq_quote_n(sb, s, strlen(s));
}

/* Decodes one UTF-8 sequence at s (n bytes left, n >= 1). Returns the code
 * point and stores the sequence length; an invalid or overlong sequence, or a
 * surrogate, gives U+FFFD with length 1 so the caller always moves on. */
static unsigned long utf8_next(const unsigned char *s, size_t n, size_t *used)
{
	unsigned char c = s[0];
	unsigned long cp;
	size_t need;
	*used = 1;
	if (c < 0x80)
		return c;
	if ((c & 0xE0) == 0xC0) {
		cp = c & 0x1F;
		need = 1;
	} else if ((c & 0xF0) == 0xE0) {
		cp = c & 0x0F;
		need = 2;
	} else if ((c & 0xF8) == 0xF0) {
		cp = c & 0x07;
		need = 3;
	} else {
		return 0xFFFD;
	}
	if (need >= n)
		return 0xFFFD;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0xFFFD;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	static const unsigned long min[] = { 0, 0x80, 0x800, 0x10000 };
	if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0xFFFD;
	*used = need + 1;
	return cp;
}

size_t utf8_invalid_at(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0, used; i < len; i += used)
		if (utf8_next(u + i, len - i, &used) == 0xFFFD && used == 1)
			return i;
	return len;
}

size_t utf8_bidi_at(const char *s, size_t len, unsigned long *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0, used; i < len; i += used) {
		unsigned long c = utf8_next(u + i, len - i, &used);
		if ((c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0x200E || c == 0x200F ||
		    c == 0x061C) {
			*cp = c;
			return i;
		}
	}
	return len;
}

size_t utf8_width(unsigned long cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

enum esc_style { ESC_JSON, ESC_YAML, ESC_TOML };

static void add_u(struct strbuf *sb, unsigned long cp)
{
	static const char hex[] = "0123456789ABCDEF";
	strbuf_addstr(sb, "\\u");
	for (int shift = 12; shift >= 0; shift -= 4)
		strbuf_addch(sb, hex[(cp >> shift) & 0xF]);
}

/* Whether a code point (>= 0x7F) must be escaped in this style. YAML allows
 * only printable characters inside a double-quoted scalar; JSON allows all;
 * TOML forbids DEL. */
static bool needs_u(enum esc_style st, unsigned long cp)
{
	switch (st) {
	case ESC_JSON:
		return false;
	case ESC_TOML:
		return cp == 0x7F;
	case ESC_YAML:
		return cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
		       cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF;
	}
	return true;
}

static void dq_escape(struct strbuf *sb, const char *s, size_t len, enum esc_style st)
{
	const unsigned char *u = (const unsigned char *)s;
	strbuf_grow(sb, len + 2);
	strbuf_addch(sb, '"');
	size_t i = 0;
	while (i < len) {
		unsigned char c = u[i];
		if (c >= 0x20 && c < 0x7F) {
			/* Copy the longest run that needs nothing, in one go. */
			size_t j = i;
			while (j < len && u[j] >= 0x20 && u[j] < 0x7F && u[j] != '"' && u[j] != '\\')
				j++;
			if (j > i) {
				strbuf_add(sb, s + i, j - i);
				i = j;
				continue;
			}
			strbuf_addch(sb, '\\');
			strbuf_addch(sb, c);
			i++;
			continue;
		}
		if (c < 0x20) {
			switch (c) {
			case '\n': strbuf_addstr(sb, "\\n"); break;
			case '\t': strbuf_addstr(sb, "\\t"); break;
			case '\r': strbuf_addstr(sb, "\\r"); break;
			case '\b': strbuf_addstr(sb, "\\b"); break;
			case '\f': strbuf_addstr(sb, "\\f"); break;
			default: add_u(sb, c); break;
			}
			i++;
			continue;
		}
		size_t used;
		unsigned long cp = utf8_next(u + i, len - i, &used);
		if (used == 1 && c >= 0x80) {
			/* Not valid UTF-8: never pass a broken byte through. */
			add_u(sb, 0xFFFD);
		} else if (needs_u(st, cp)) {
			add_u(sb, cp);
		} else {
			strbuf_add(sb, s + i, used);
		}
		i += used;
	}
	strbuf_addch(sb, '"');
}

void json_quote_n(struct strbuf *sb, const char *s, size_t len)
{
	dq_escape(sb, s, len, ESC_JSON);
}

void json_quote(struct strbuf *sb, const char *s)
{
	dq_escape(sb, s, strlen(s), ESC_JSON);
}

void toml_quote_n(struct strbuf *sb, const char *s, size_t len)
{
	dq_escape(sb, s, len, ESC_TOML);
}

void toml_quote(struct strbuf *sb, const char *s)
{
	dq_escape(sb, s, strlen(s), ESC_TOML);
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool word_eq_ci(const char *s, size_t len, const char *w)
{
	if (strlen(w) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)w[i])
			return false;
	}
	return true;
}

bool yaml_plain_ok(const char *s, size_t len)
{
	if (!len)
		return false;
	unsigned char c0 = (unsigned char)s[0];
	/* A leading digit, sign, '.', '~' or indicator could start a number, a
	 * date, a special float, null or YAML syntax: always quoted. */
	if (!is_alpha(c0) && c0 != '_' && c0 != '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '/' ||
		    c == '-')
			continue;
		/* "a:b" is plain in both versions; "a:" would open a mapping. */
		if (c == ':' && i + 1 < len)
			continue;
		return false;
	}
	static const char *const words[] = { "y", "n", "yes", "no", "on", "off", "true",
					     "false", "null" };
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (word_eq_ci(s, len, words[i]))
			return false;
	return true;
}

void yaml_scalar_n(struct strbuf *sb, const char *s, size_t len)
{
	if (yaml_plain_ok(s, len))
		strbuf_add(sb, s, len);
	else
		dq_escape(sb, s, len, ESC_YAML);
}

void yaml_scalar(struct strbuf *sb, const char *s)
{
	yaml_scalar_n(sb, s, strlen(s));
}
