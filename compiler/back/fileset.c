#include "fileset.h"
#include "strmap.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A slot maps a path to a file (index >= 0) or marks a folder (index -1). */
struct fileset_slot {
	char *key;      /* NULL: empty slot; owned (folder keys) or the entry's path */
	long index;
	bool own_key;
};

void fileset_init(struct fileset *fs)
{
	memset(fs, 0, sizeof(*fs));
}

static void free_slots(struct fileset *fs)
{
	for (size_t i = 0; i < fs->nslots; i++)
		if (fs->slots[i].own_key)
			free(fs->slots[i].key);
	free(fs->slots);
	fs->slots = NULL;
	fs->nslots = fs->used = 0;
}

void fileset_release(struct fileset *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].path);
		free(fs->v[i].data);
	}
	free(fs->v);
	free_slots(fs);
	fileset_init(fs);
}

bool fileset_path_ok(const char *path)
{
	if (!*path || path[0] == '/')
		return false;
	const char *seg = path;
	for (const char *p = path;; p++) {
		if (*p == '/' || !*p) {
			size_t n = (size_t)(p - seg);
			if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (!*p)
				return true;
			seg = p + 1;
		} else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			return false;
		}
	}
}

static struct fileset_slot *find_slot(const struct fileset *fs, const char *key, size_t klen)
{
	if (!fs->nslots)
		return NULL;
	size_t mask = fs->nslots - 1;
	size_t i = (size_t)strmap_hash(key, klen) & mask;
	while (fs->slots[i].key) {
		if (!strncmp(fs->slots[i].key, key, klen) && !fs->slots[i].key[klen])
			return &fs->slots[i];
		i = (i + 1) & mask;
	}
	return &fs->slots[i];
}

static void rehash(struct fileset *fs, size_t nslots)
{
	struct fileset_slot *old = fs->slots;
	size_t n = fs->nslots;
	fs->slots = xcalloc(nslots, sizeof(*fs->slots));
	fs->nslots = nslots;
	for (size_t i = 0; i < n; i++) {
		if (!old[i].key)
			continue;
		struct fileset_slot *s = find_slot(fs, old[i].key, strlen(old[i].key));
		*s = old[i];
	}
	free(old);
}

static void slot_put(struct fileset *fs, const char *key, size_t klen, long index)
{
	if ((fs->used + 1) * 2 > fs->nslots)
		rehash(fs, fs->nslots ? fs->nslots * 2 : 256);
	struct fileset_slot *s = find_slot(fs, key, klen);
	if (index >= 0) {
		s->key = fs->v[index].path;
		s->own_key = false;
	} else {
		s->key = xstrndup(key, klen);
		s->own_key = true;
	}
	s->index = index;
	fs->used++;
}

int fileset_add(struct fileset *fs, const char *path, char *data, size_t len, unsigned mode,
		struct strbuf *err)
{
	if (!fileset_path_ok(path)) {
		strbuf_addf(err, "'%s' is not a clean relative path", path);
		free(data);
		return -1;
	}
	size_t plen = strlen(path);
	struct fileset_slot *s = find_slot(fs, path, plen);
	if (s && s->key) {
		if (s->index >= 0)
			strbuf_addf(err, "two files would be written to '%s'", path);
		else
			strbuf_addf(err, "'%s' would be both a file and a folder", path);
		free(data);
		return -1;
	}
	/* No folder above the new file may be a file itself. */
	for (size_t i = 0; i < plen; i++) {
		if (path[i] != '/')
			continue;
		struct fileset_slot *d = find_slot(fs, path, i);
		if (d && d->key && d->index >= 0) {
			strbuf_addf(err, "'%.*s' would be both a file and a folder", (int)i, path);
			free(data);
			return -1;
		}
	}
	XGROW(fs->v, fs->cap, fs->n + 1);
	struct fileset_entry *e = &fs->v[fs->n];
	e->path = xstrdup(path);
	e->data = data;
	e->len = len;
	e->mode = mode;
	slot_put(fs, path, plen, (long)fs->n);
	fs->n++;
	for (size_t i = 0; i < plen; i++) {
		if (path[i] != '/')
			continue;
		struct fileset_slot *d = find_slot(fs, path, i);
		if (!d || !d->key)
			slot_put(fs, path, i, -1);
	}
	return 0;
}

int fileset_add_copy(struct fileset *fs, const char *path, const void *data, size_t len,
		     unsigned mode, struct strbuf *err)
{
	char *copy = xmalloc(len + 1);
	memcpy(copy, data, len);
	copy[len] = '\0';
	return fileset_add(fs, path, copy, len, mode, err);
}

const struct fileset_entry *fileset_get(const struct fileset *fs, const char *path)
{
	struct fileset_slot *s = find_slot(fs, path, strlen(path));
	return s && s->key && s->index >= 0 ? &fs->v[s->index] : NULL;
}

bool fileset_has_dir(const struct fileset *fs, const char *path)
{
	struct fileset_slot *s = find_slot(fs, path, strlen(path));
	return s && s->key && s->index < 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct fileset_entry *)a)->path, ((const struct fileset_entry *)b)->path);
}

void fileset_sort(struct fileset *fs)
{
	qsort(fs->v, fs->n, sizeof(*fs->v), cmp_entry);
	/* Entry indices moved: point the file slots at their new places. */
	for (size_t i = 0; i < fs->n; i++) {
		struct fileset_slot *s = find_slot(fs, fs->v[i].path, strlen(fs->v[i].path));
		s->index = (long)i;
	}
}

size_t fileset_each_prefix(const struct fileset *fs, const char *prefix,
			   void (*fn)(const struct fileset_entry *e, void *arg), void *arg)
{
	size_t pl = strlen(prefix);
	/* Binary search for the first path >= prefix; matches follow it. */
	size_t lo = 0, hi = fs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(fs->v[mid].path, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t count = 0;
	for (size_t i = lo; i < fs->n && !strncmp(fs->v[i].path, prefix, pl); i++) {
		if (fn)
			fn(&fs->v[i], arg);
		count++;
	}
	return count;
}
