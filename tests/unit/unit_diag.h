/* unit_diag.h: a struct diag's messages as text (no colour), for unit tests
 * that show or compare what the front end reported. */
#ifndef CLUSTERC_UNIT_DIAG_H
#define CLUSTERC_UNIT_DIAG_H

#include <stdio.h>

#include "diag.h"

/* The caller frees the result. */
static inline char *diag_text(struct diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	d->color = false;
	diag_print(d, m);
	fclose(m);
	return buf;
}

#endif
