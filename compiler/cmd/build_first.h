/* build_first: builds a .cluster FILE into a private temporary directory,
 * so a command given FILE never rewrites the committed out/. */
#ifndef CLUSTERC_BUILD_FIRST_H
#define CLUSTERC_BUILD_FIRST_H

/* Builds file into a fresh directory under $TMPDIR (or /tmp), set in
 * *tmpdir (the caller removes it with rm_rf and frees it; NULL when none was
 * made). Returns OUTDIR/<cluster> (the caller frees it), or NULL after the
 * build's diagnostics or a message on stderr. */
char *build_first(const char *file, char **tmpdir);

/* What a command given OUTDIR/<cluster> | FILE does with the folder. */
typedef int (*built_dir_fn)(const char *dir, void *arg);
/* Runs fn on target when it is a folder, else on the private build of the
 * FILE (build_first), removed afterwards. Returns fn's status, 1 when the
 * build failed, 2 (after "WHO: TARGET: reason") when target cannot be read. */
int on_built_dir(const char *who, const char *target, built_dir_fn fn, void *arg);

#endif
