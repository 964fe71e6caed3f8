/* strbuf: growable, always NUL-terminated byte buffers (after git's strbuf.h).
 * Every string clusterc builds goes through one; there are no fixed buffers and
 * no sprintf/strcpy/strcat. A strbuf owns its bytes; strbuf_detach hands them
 * to the caller. */
#ifndef CLUSTERC_STRBUF_H
#define CLUSTERC_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf;  /* never NULL after init; always NUL-terminated */
	size_t len;
	size_t alloc;
};

#define STRBUF_INIT { .buf = strbuf_empty_, .len = 0, .alloc = 0 }
extern char strbuf_empty_[];

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* Zeroes the whole allocation, then releases it: for buffers that held secrets. */
void strbuf_wipe(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
/* Returns the buffer (caller frees) and re-initialises sb. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addchars(struct strbuf *sb, int c, size_t n);
__attribute__((format(printf, 2, 3)))
void strbuf_addf(struct strbuf *sb, const char *fmt, ...);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_setlen(struct strbuf *sb, size_t len);
/* Drops every '\n' and '\r' at the end: a line read from a file, a command's
 * output or its stderr, without its line ending (LF or CRLF). */
void strbuf_rtrim_newlines(struct strbuf *sb);
/* Reads a whole file; returns 0, or -1 with errno set (sb unchanged on error). */
int strbuf_read_file(struct strbuf *sb, const char *path);
/* Reads everything from fd until EOF. Returns 0 or -1. */
int strbuf_read_fd(struct strbuf *sb, int fd);

#endif
