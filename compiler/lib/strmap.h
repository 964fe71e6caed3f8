/* strmap: open-addressing hash maps from strings (or 32-bit keys) to pointers,
 * so duplicate and reference checks stay linear in the number of nodes. Keys
 * are borrowed, not copied: they must outlive the map. */
#ifndef CLUSTERC_STRMAP_H
#define CLUSTERC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key;
	uint32_t ukey;
	int used;
	void *value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, n;
};

/* FNV-1a over n bytes: the one string hash of clusterc's hash tables. */
uint64_t strmap_hash(const char *s, size_t n);

void strmap_init(struct strmap *m);
void strmap_release(struct strmap *m);
/* Returns the existing value for key, or NULL after inserting value. */
void *strmap_put(struct strmap *m, const char *key, void *value);
void *strmap_get(const struct strmap *m, const char *key);
void *u32map_put(struct strmap *m, uint32_t key, void *value);
void *u32map_get(const struct strmap *m, uint32_t key);

#endif
