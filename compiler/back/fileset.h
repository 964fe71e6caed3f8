/* fileset: the output files of one build, in memory, before emit writes them.
 * Paths are relative to out/<cluster>/ ("nodes/cp1/user-data"); each file has
 * its bytes and a mode (0644, or 0755 for scripts). A path is added once: a
 * second add of the same path, a path that is also a folder of another file
 * ("a/b" and "a/b/c"), or a path that is not a clean relative path fails with
 * a message. Lookups are hashed, so a build of 10,000 nodes stays fast.
 * The set owns every path and buffer in it. */
#ifndef CLUSTERC_FILESET_H
#define CLUSTERC_FILESET_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

struct fileset_entry {
	char *path;
	char *data;   /* NUL-terminated (the NUL is not counted in len) */
	size_t len;
	unsigned mode;
};

struct fileset {
	struct fileset_entry *v;
	size_t n, cap;
	/* Hash of every file path and every folder above one. */
	struct fileset_slot *slots;
	size_t nslots, used;
};

void fileset_init(struct fileset *fs);
void fileset_release(struct fileset *fs);

/* True for a clean relative path: no leading or trailing '/', no empty,
 * "." or ".." segment, no control characters. */
bool fileset_path_ok(const char *path);

/* Adds a file, taking ownership of data (xmalloc'd, len bytes plus a NUL,
 * e.g. from strbuf_detach). Returns 0, or -1 with a reason appended to err
 * (data is freed then). */
int fileset_add(struct fileset *fs, const char *path, char *data, size_t len, unsigned mode,
		struct strbuf *err);
/* Same, copying the bytes. */
int fileset_add_copy(struct fileset *fs, const char *path, const void *data, size_t len,
		     unsigned mode, struct strbuf *err);

/* The file at path, or NULL. */
const struct fileset_entry *fileset_get(const struct fileset *fs, const char *path);
/* True when path (without a trailing '/') is a folder holding some file. */
bool fileset_has_dir(const struct fileset *fs, const char *path);

/* Sorts the entries by path (bytewise), the order emit and hashes use. */
void fileset_sort(struct fileset *fs);

/* Calls fn for every file whose path starts with prefix, in path order
 * (fileset_sort first). Returns how many matched. */
size_t fileset_each_prefix(const struct fileset *fs, const char *prefix,
			   void (*fn)(const struct fileset_entry *e, void *arg), void *arg);

#endif
