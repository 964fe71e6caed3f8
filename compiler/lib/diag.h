/* diag: source files and the diagnostics that point into them.
 *
 * Locations are byte spans into a registered source; they become line:column
 * only when printed. Diagnostics are collected, not printed at once, so that a
 * run can report every problem it finds, in source order, then a count
 * (after jq's locfile.c and clang's output). */
#ifndef CLUSTERC_DIAG_H
#define CLUSTERC_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct loc {
	int32_t file;    /* index into the source table; -1: no location */
	uint32_t start;  /* byte offset of the first byte */
	uint32_t end;    /* byte offset one past the last byte (end >= start) */
};

#define LOC_NONE ((struct loc){ .file = -1, .start = 0, .end = 0 })

struct source {
	char *path;       /* as the user named it (relative to cwd), owned */
	char *text;       /* whole file, NUL-terminated, owned */
	size_t len;
	uint32_t *lines;  /* byte offset of each line start, owned */
	size_t nlines;
};

enum diag_level { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE, DIAG_HINT };

struct diag_entry {
	enum diag_level level;
	struct loc loc;
	const char *code; /* stable id such as "C0301" (diag_codes.c); NULL for notes */
	char *msg;
	size_t seq;       /* insertion order, to keep equal locations stable */
	size_t parent;    /* notes and hints follow their error; SIZE_MAX for top level */
};

struct diag {
	struct source *sources;
	size_t nsources, sources_cap;
	struct diag_entry *entries;
	size_t nentries, entries_cap;
	size_t errors, warnings;
	size_t last_top;  /* index of the last top-level entry, for notes */
	bool werror;
	bool color;
	size_t max_errors; /* 0: unlimited */
};

void diag_init(struct diag *d);
void diag_release(struct diag *d);
/* Decides colour from the stream: a terminal, NO_COLOR unset, TERM not "dumb". */
void diag_set_color_auto(struct diag *d, FILE *stream);

/* Takes ownership of text (NUL-terminated, len bytes). Returns the source id. */
int32_t diag_add_source(struct diag *d, const char *path, char *text, size_t len);
const struct source *diag_source(const struct diag *d, int32_t id);
void diag_linecol(const struct diag *d, struct loc loc, size_t *line, size_t *col);

/* code is the diagnostic's stable id from diag_codes.c, printed as error[C0301];
 * `clusterc explain C0301` says what it means. */
__attribute__((format(printf, 4, 5)))
void diag_error(struct diag *d, struct loc loc, const char *code, const char *fmt, ...);
__attribute__((format(printf, 4, 5)))
void diag_warning(struct diag *d, struct loc loc, const char *code, const char *fmt, ...);
/* A note or hint attaches to the most recent error or warning. */
__attribute__((format(printf, 3, 4)))
void diag_note(struct diag *d, struct loc loc, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void diag_hint(struct diag *d, const char *fmt, ...);

bool diag_failed(const struct diag *d);
/* Prints every diagnostic in source order, then the count line. */
void diag_print(struct diag *d, FILE *out);

/* Edit distance helper for "did you mean": returns the closest candidate within
 * a sensible distance, or NULL. */
const char *diag_suggest(const char *word, const char *const *candidates, size_t n);

#endif
