/* provenance: the header line of a generated file, naming the .cluster blocks
 * whose values its template read (see provenance.c for why blocks, not lines). */
#ifndef CLUSTERC_PROVENANCE_H
#define CLUSTERC_PROVENANCE_H

#include <jansson.h>

#include "strbuf.h"
#include "tmpl.h"

/* Adds the header to body, the rendering of output path out, when its format
 * has '#' comments; after a first line that must stay first (#!, #cloud-config). */
void provenance_header(const json_t *model, const struct tmpl_reads *reads, const char *out,
		       struct strbuf *body);

#endif
