#include "strmap.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

void strmap_init(struct strmap *m)
{
	m->slots = NULL;
	m->cap = m->n = 0;
}

void strmap_release(struct strmap *m)
{
	free(m->slots);
	strmap_init(m);
}

uint64_t strmap_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static uint64_t hash_str(const char *s)
{
	return strmap_hash(s, strlen(s));
}

static uint64_t hash_u32(uint32_t k)
{
	uint64_t h = k * 0x9E3779B97F4A7C15ull;
	return h ^ (h >> 29);
}

static void rehash(struct strmap *m);

static struct strmap_slot *find(const struct strmap *m, const char *key, uint32_t ukey, uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->used)
			return s;
		if (key ? (s->key && !strcmp(s->key, key)) : (!s->key && s->ukey == ukey))
			return s;
	}
}

static void *put(struct strmap *m, const char *key, uint32_t ukey, void *value)
{
	if ((m->n + 1) * 2 > m->cap)
		rehash(m);
	uint64_t h = key ? hash_str(key) : hash_u32(ukey);
	struct strmap_slot *s = find(m, key, ukey, h);
	if (s->used)
		return s->value;
	s->used = 1;
	s->key = key;
	s->ukey = ukey;
	s->value = value;
	m->n++;
	return NULL;
}

static void rehash(struct strmap *m)
{
	struct strmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].used)
			put(m, old.slots[i].key, old.slots[i].ukey, old.slots[i].value);
	free(old.slots);
}

void *strmap_put(struct strmap *m, const char *key, void *value)
{
	return put(m, key, 0, value);
}

void *strmap_get(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	struct strmap_slot *s = find(m, key, 0, hash_str(key));
	return s->used ? s->value : NULL;
}

void *u32map_put(struct strmap *m, uint32_t key, void *value)
{
	return put(m, NULL, key, value);
}

void *u32map_get(const struct strmap *m, uint32_t key)
{
	if (!m->cap)
		return NULL;
	struct strmap_slot *s = find(m, NULL, key, hash_u32(key));
	return s->used ? s->value : NULL;
}
