#include "stdlib_data.h"
#include "sort.h"
#include "strbuf.h"
#include "xalloc.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *override_dir;

void stdlib_set_dir(const char *dir)
{
	free(override_dir);
	override_dir = dir ? xstrdup(dir) : NULL;
}

const char *stdlib_dir(void)
{
	return override_dir;
}

char *stdlib_display_path(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *dir = stdlib_dir();
	strbuf_addf(&sb, "%s/%s", dir ? dir : "stdlib", path);
	return strbuf_detach(&sb, NULL);
}

static const struct stdlib_entry *find_embedded(const char *path)
{
	unsigned long lo = 0, hi = stdlib_nentries;
	while (lo < hi) {
		unsigned long mid = lo + (hi - lo) / 2;
		int c = strcmp(stdlib_entries[mid].path, path);
		if (!c)
			return &stdlib_entries[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *stdlib_embedded(const char *path, size_t *len)
{
	const struct stdlib_entry *e = find_embedded(path);
	if (e && len)
		*len = e->len;
	return e ? e->data : NULL;
}

char *stdlib_read(const char *path, size_t *len)
{
	/* Paths come from stdlib manifests; refuse anything that climbs out. */
	if (path[0] == '/' || strstr(path, ".."))
		return NULL;
	if (override_dir) {
		struct strbuf full = STRBUF_INIT, sb = STRBUF_INIT;
		strbuf_addf(&full, "%s/%s", override_dir, path);
		int rc = strbuf_read_file(&sb, full.buf);
		strbuf_release(&full);
		if (rc < 0) {
			strbuf_release(&sb);
			return NULL;
		}
		return strbuf_detach(&sb, len);
	}
	const struct stdlib_entry *e = find_embedded(path);
	if (!e)
		return NULL;
	if (len)
		*len = e->len;
	return xstrndup(e->data, e->len);
}

static void walk(const char *root, const char *rel, const char *prefix, char ***out,
		 size_t *n, size_t *cap)
{
	struct strbuf dir = STRBUF_INIT;
	strbuf_addf(&dir, "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(dir.buf);
	if (!d) {
		strbuf_release(&dir);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct strbuf child = STRBUF_INIT, full = STRBUF_INIT;
		strbuf_addf(&child, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		strbuf_addf(&full, "%s/%s", root, child.buf);
		struct stat st;
		if (stat(full.buf, &st) == 0 && S_ISDIR(st.st_mode)) {
			walk(root, child.buf, prefix, out, n, cap);
		} else if (!strncmp(child.buf, prefix, strlen(prefix))) {
			XGROW(*out, *cap, *n + 1);
			(*out)[(*n)++] = strbuf_detach(&child, NULL);
		}
		strbuf_release(&child);
		strbuf_release(&full);
	}
	closedir(d);
	strbuf_release(&dir);
}

char **stdlib_list(const char *prefix, size_t *n)
{
	char **out = NULL;
	size_t cap = 0;
	*n = 0;
	if (override_dir) {
		walk(override_dir, "", prefix, &out, n, &cap);
		if (*n)
			qsort(out, *n, sizeof(*out), cmp_str_ptr);
	} else {
		size_t pl = strlen(prefix);
		for (unsigned long i = 0; i < stdlib_nentries; i++) {
			if (!strncmp(stdlib_entries[i].path, prefix, pl)) {
				XGROW(out, cap, *n + 1);
				out[(*n)++] = xstrdup(stdlib_entries[i].path);
			}
		}
	}
	return out;
}
