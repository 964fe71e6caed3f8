/* format: the one canonical layout of a .cluster file, for `clusterc fmt`.
 *
 * The parser's tree gives the structure; the source text gives every token's
 * spelling (a size stays 16GiB, a string keeps its escapes) and the comments,
 * which the lexer skips: they are found again in the text, outside strings,
 * and written before the item that follows them, or after the item they
 * trail on the same line. The layout:
 *   - two spaces per nesting level, one item per line, `name = value` with
 *     the '=' of consecutive attributes aligned (a blank line, a comment line
 *     or a block ends the run);
 *   - a block, map or list written on one line stays on one line
 *     (`vm { on = pve  id = 180 }`, `{ a = 1, b = 2 }`, `[a, b]`), one that
 *     spans lines gets one item per line (list and map items end in ',');
 *   - at most one blank line between items, kept where the source had one,
 *     none after an opening brace; the file ends in one newline.
 * Applying it twice gives the same text, and the tree is unchanged. */
#ifndef CLUSTERC_FORMAT_H
#define CLUSTERC_FORMAT_H

#include "diag.h"
#include "strbuf.h"

#include <stdbool.h>

/* Formats source `file` (registered with d) into out. A file with syntax or
 * lexical errors is not formatted: the errors are in d and false is
 * returned. */
bool format_source(struct diag *d, int32_t file, struct strbuf *out);

#endif
