/* build_summary: what a build changes in OUTDIR/<cluster>/ (build_summary.c). */
#ifndef CLUSTERC_BUILD_SUMMARY_H
#define CLUSTERC_BUILD_SUMMARY_H

#include "fileset.h"
#include "strbuf.h"

/* Appends to out the files fs adds, changes and removes against the folder
 * dir (which may be missing: every file is added), and the steps of fs's
 * plan.json whose hash differs from dir/plan.json's. */
void build_summary(const char *dir, const struct fileset *fs, struct strbuf *out);

#endif
