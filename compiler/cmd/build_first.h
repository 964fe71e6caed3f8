/* build_first: builds a .cluster FILE into a private temporary directory,
 * so a command given FILE never rewrites the committed out/. */
#ifndef CLUSTERC_BUILD_FIRST_H
#define CLUSTERC_BUILD_FIRST_H

/* Builds file into a fresh directory under $TMPDIR (or /tmp), set in
 * *tmpdir (the caller removes it with rm_rf and frees it; NULL when none was
 * made). Returns OUTDIR/<cluster> (the caller frees it), or NULL after the
 * build's diagnostics or a message on stderr. */
char *build_first(const char *file, char **tmpdir);

#endif
