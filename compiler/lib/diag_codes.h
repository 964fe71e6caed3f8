/* diag_codes: the table of diagnostic codes (C0101, ...) that diag_error and
 * diag_warning take, with the title and explanation `clusterc explain` prints. */
#ifndef CLUSTERC_DIAG_CODES_H
#define CLUSTERC_DIAG_CODES_H

#include <stddef.h>

struct diag_code {
	const char *code;        /* "C" and four digits: area (two) and number (two) */
	const char *title;       /* the message, with "…" for what varies */
	const char *explanation; /* what it means and how to fix it */
};

extern const struct diag_code diag_codes[];
extern const size_t diag_ncodes;

/* NULL when code is not in the table. */
const struct diag_code *diag_code_find(const char *code);

#endif
