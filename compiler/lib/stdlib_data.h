/* stdlib_data: the stdlib tree embedded at build time (compiler/tools/embed.c),
 * and access to it, or to a directory given with --stdlib that overrides it. */
#ifndef CLUSTERC_STDLIB_DATA_H
#define CLUSTERC_STDLIB_DATA_H

#include <stddef.h>

struct stdlib_entry {
	const char *path;   /* relative to stdlib/, e.g. "versions.json" */
	const char *data;   /* NUL-terminated */
	unsigned long len;
};

extern const struct stdlib_entry stdlib_entries[];
extern const unsigned long stdlib_nentries;

/* Uses DIR instead of the embedded tree from now on (NULL: back to embedded). */
void stdlib_set_dir(const char *dir);
const char *stdlib_dir(void);
/* "stdlib/PATH", or "DIR/PATH" under --stdlib DIR: how messages name a stdlib
 * file. The caller frees it. */
char *stdlib_display_path(const char *path);
/* Reads a stdlib file. Returns a NUL-terminated buffer the caller frees, or NULL
 * when there is no such file; *len gets its length. */
char *stdlib_read(const char *path, size_t *len);
/* The file as built into the binary, whatever --stdlib says: for data that
 * is part of the program itself (the runner's remote scripts). Static
 * storage, NUL-terminated; NULL when there is no such file. */
const char *stdlib_embedded(const char *path, size_t *len);
/* Lists the files whose path starts with prefix, sorted; the caller frees the
 * array and each string. */
char **stdlib_list(const char *prefix, size_t *n);

#endif
