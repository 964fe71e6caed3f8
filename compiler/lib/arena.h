/* arena: one bump allocator per compilation. AST nodes and their strings live
 * here and are freed together by arena_release; nothing inside is freed alone. */
#ifndef CLUSTERC_ARENA_H
#define CLUSTERC_ARENA_H

#include <stddef.h>

struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	size_t used, cap;  /* in the head chunk */
	size_t total;      /* bytes handed out, for statistics */
};

void arena_init(struct arena *a);
void arena_release(struct arena *a);
/* Zeroed, aligned for any type. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);

#endif
