/* sort: comparators for qsort(3) and bsearch(3), written once. */
#ifndef CLUSTERC_SORT_H
#define CLUSTERC_SORT_H

/* Orders an array of `char *` (or `const char *`) by strcmp. */
int cmp_str_ptr(const void *a, const void *b);

#endif
