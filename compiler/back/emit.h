/* emit: writes a build's files to OUTDIR/<cluster>/ atomically.
 *
 * Everything is written into OUTDIR/.<cluster>.tmp-XXXXXX (beside the target,
 * so the final rename stays on one file system), flushed to disk, and only
 * then swapped in place of OUTDIR/<cluster>/: with renameat2(RENAME_EXCHANGE)
 * where the kernel and file system support it, else by renaming the old
 * folder aside, the new one in, and the old one away. A failure at any point
 * before the swap leaves the previous OUTDIR/<cluster>/ byte-for-byte as it
 * was and removes the temporary folder; readers never see a half-written
 * tree (after git's lockfile.c). OUTDIR is created when missing. */
#ifndef CLUSTERC_EMIT_H
#define CLUSTERC_EMIT_H

#include <stdbool.h>

#include "diag.h"
#include "fileset.h"

/* Returns 0, or -1 after reporting to d. Refuses an empty cluster name, one
 * containing '/', or one starting with '.' (it would name a hidden or
 * temporary folder, or climb out of OUTDIR). */
int emit_write(const char *outdir, const char *cluster_name, const struct fileset *fs,
	       struct diag *d);

/* Failure injection for tests (after SQLite's test_fault): when >= 0, the
 * write of file number emit_fault_after (counting from 0) fails as if the
 * disk were full. */
extern long emit_fault_after;
/* For tests: when true, skip renameat2 and use the rename-aside fallback that
 * kernels or file systems without RENAME_EXCHANGE get. */
extern bool emit_no_exchange;

#endif
