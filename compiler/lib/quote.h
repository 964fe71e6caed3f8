/* quote: the one place values are escaped for the languages clusterc writes
 * (STYLE.md habit 7). Every function appends to sb and never fails; the
 * template engine (back/tmpl_eval.c) is their main caller.
 *
 * Inputs are byte strings with an explicit length (the _n forms) or
 * NUL-terminated. Strings from the model are valid UTF-8 (jansson checks);
 * where a format needs escapes for non-printable code points we decode UTF-8,
 * and a byte that is not valid UTF-8 becomes U+FFFD there (never raw). */
#ifndef CLUSTERC_QUOTE_H
#define CLUSTERC_QUOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

/* One shell word: bare when non-empty and only [A-Za-z0-9_./:@%+=,-], else
 * single-quoted with each ' written as '\'' (after git's sq_quote_buf). */
/* The offset of the first byte of s that is not valid UTF-8, or len. */
size_t utf8_invalid_at(const char *s, size_t len);
/* The offset of the first Unicode bidirectional control character of s (the
 * embeddings, overrides and isolates U+202A..U+202E and U+2066..U+2069, the
 * marks U+200E, U+200F and U+061C), or len; *cp is set to it. They make text
 * display in another order than the one a program reads it in ("Trojan
 * Source", CVE-2021-42574). */
size_t utf8_bidi_at(const char *s, size_t len, unsigned long *cp);
/* The bytes UTF-8 takes for code point cp (1 to 4). */
size_t utf8_width(unsigned long cp);
void sq_quote(struct strbuf *sb, const char *s);
void sq_quote_n(struct strbuf *sb, const char *s, size_t len);

/* A YAML scalar that reads back as the same string under YAML 1.1 and 1.2:
 * plain only when yaml_plain_ok() says so, else double-quoted. */
void yaml_scalar(struct strbuf *sb, const char *s);
void yaml_scalar_n(struct strbuf *sb, const char *s, size_t len);
/* True when s may be written as a plain YAML scalar. Deliberately
 * conservative: [A-Za-z0-9_./-] plus ':' (not last), starting with a letter,
 * '_' or '/', and not one of the YAML 1.1 boolean/null words (yes, no, on,
 * off, y, n, true, false, null, any case). Anything that could read as a
 * number, date, time or special float starts with a digit, sign, '.' or '~'
 * and is therefore quoted. */
bool yaml_plain_ok(const char *s, size_t len);

/* A JSON string literal with its quotes; non-ASCII UTF-8 is kept as is. */
void json_quote(struct strbuf *sb, const char *s);
void json_quote_n(struct strbuf *sb, const char *s, size_t len);

/* A TOML basic string ("..."): JSON-style escapes, control characters and
 * DEL as \uXXXX. */
void toml_quote(struct strbuf *sb, const char *s);
void toml_quote_n(struct strbuf *sb, const char *s, size_t len);


#endif
