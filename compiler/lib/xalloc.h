/* xalloc: the one allocation funnel. Every allocation in clusterc goes through
 * these; on out-of-memory they print one line and exit with status 2, so callers
 * never handle NULL from an allocator. */
#ifndef CLUSTERC_XALLOC_H
#define CLUSTERC_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Returns a NUL-terminated copy the caller owns. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grows *array (of *cap elements of elem_size) to hold at least need elements. */
void xgrow(void **array, size_t *cap, size_t need, size_t elem_size);
/* Zeroes a string that held a secret, then frees it (NULL is a no-op).
 * explicit_bzero, since a compiler may drop a memset before free(). */
void xfree_secret(char *s);
#define XGROW(arr, cap, need) xgrow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

#endif
