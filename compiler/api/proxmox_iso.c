/* proxmox.iso: puts an ISO on a Proxmox storage (args schema in builtin.c). */
#include "pve_client.h"
#include "proxmox.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin.h"
#include "xalloc.h"

static int is_sha256_hex(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isxdigit((unsigned char)s[n]))
			return 0;
	return n == 64;
}

int proxmox_iso(const json_t *args, const json_t *values, const json_t *overrides,
		json_t *outputs, struct strbuf *log)
{
	struct pve p;
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT, suffix = STRBUF_INIT, caname = STRBUF_INIT;
	json_t *list = NULL, *data = NULL;
	const char *storage = builtin_str_arg(args, "iso_storage"), *file = builtin_str_arg(args, "file");
	const char *name = builtin_str_arg(args, "name"), *sha = builtin_str_arg(args, "sha256");
	json_t *ca = json_object_get(args, "content_addressed");
	int rc = 1, bad = 0;
	(void)outputs;

	pve_init(&p, log);
	if (!storage || !pve_plain_id(storage)) {
		strbuf_addstr(&err, "args: \"iso_storage\" must be a storage id such as local\n");
		bad = 1;
	}
	if (!file || !*file) {
		strbuf_addstr(&err, "args: \"file\" must name the ISO to upload\n");
		bad = 1;
	}
	if (!name || !pve_plain_id(name) || strlen(name) < 5 || strcmp(name + strlen(name) - 4, ".iso")) {
		strbuf_addstr(&err, "args: \"name\" must be a file name of letters, digits, '-', '_', '.' "
			    "ending in .iso (Proxmox renames anything else)\n");
		bad = 1;
	}
	if (json_object_get(args, "sha256") && !json_is_null(json_object_get(args, "sha256")) &&
	    (!sha || !is_sha256_hex(sha))) {
		strbuf_addstr(&err, "args: \"sha256\" must be 64 hex digits\n");
		bad = 1;
	}
	if (ca && !json_is_boolean(ca)) {
		strbuf_addstr(&err, "args: \"content_addressed\" must be true or false\n");
		bad = 1;
	}
	/* content_addressed: the stored name carries the local file's sha256, so the
	 * file on the storage is current exactly when that name is there. */
	if (!bad && json_is_true(ca)) {
		if (pve_content_addressed_name(file, name, &caname, &err))
			bad = 1;
		else
			name = caname.buf;
	}
	bad |= pve_setup(&p, args, values, overrides, &err);
	if (bad || pve_login(&p, &err))
		goto out;

	strbuf_addf(&path, "/nodes/%s/storage/%s/content?content=iso", p.node, storage);
	if (pve_call(&p, "GET", path.buf, NULL, NULL, 0, &list, &err))
		goto out;
	strbuf_addf(&suffix, "iso/%s", name);
	/* The local file, when there is one, tells a stale copy by its size. */
	struct stat st;
	errno = 0;
	int have_local = stat(file, &st) == 0 && S_ISREG(st.st_mode);
	int local_errno = errno;
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *volid = builtin_str_arg(e, "volid");
		size_t vl = volid ? strlen(volid) : 0;
		if (vl > suffix.len && !strcmp(volid + vl - suffix.len, suffix.buf) &&
		    (volid[vl - suffix.len - 1] == ':' || volid[vl - suffix.len - 1] == '/')) {
			json_t *size = json_object_get(e, "size");
			if (have_local && json_is_integer(size) &&
			    json_integer_value(size) != (json_int_t)st.st_size) {
				strbuf_addf(log, "%s is on storage %s but its size differs (%lld bytes there, "
					    "%lld here); uploading it again (Proxmox replaces it)\n", volid,
					    storage, (long long)json_integer_value(size), (long long)st.st_size);
				break;
			}
			strbuf_addf(log, "exists: %s is already on storage %s; not uploading\n", volid, storage);
			rc = 0;
			goto out;
		}
	}

	if (!have_local) {
		strbuf_addf(&err, "cannot upload %s: %s", file,
			    local_errno ? strerror(local_errno) : "not a regular file");
		if (file[0] != '/') {
			char *cwd = getcwd(NULL, 0);
			strbuf_addf(&err, "\n  (relative paths are read from the working directory, %s; "
				    "builtins run in out/<cluster>/)", cwd ? cwd : "unknown");
			free(cwd);
		}
		goto out;
	}
	struct http_part parts[4];
	size_t np = 0;
	parts[np++] = (struct http_part){ .name = "content", .value = "iso" };
	if (sha) {
		parts[np++] = (struct http_part){ .name = "checksum-algorithm", .value = "sha256" };
		parts[np++] = (struct http_part){ .name = "checksum", .value = sha };
	}
	parts[np++] = (struct http_part){ .name = "filename", .path = file, .filename = name };
	strbuf_reset(&path);
	strbuf_addf(&path, "/nodes/%s/storage/%s/upload", p.node, storage);
	strbuf_addf(log, "uploading %s (%.1f MiB) to storage %s as %s\n", file,
		    (double)st.st_size / (1024.0 * 1024.0), storage, name);
	double t0 = now_mono();
	if (pve_call(&p, "POST", path.buf, NULL, parts, np, &data, &err))
		goto out;
	double dt = now_mono() - t0;
	strbuf_addf(log, "uploaded in %.1fs (%.1f MiB/s)\n", dt,
		    dt > 0 ? (double)st.st_size / (1024.0 * 1024.0) / dt : 0.0);
	if (!json_is_string(data)) {
		strbuf_addstr(&err, "upload: the answer is not a task id");
		goto out;
	}
	if (pve_task_wait(&p, json_string_value(data), "copy the uploaded ISO", p.task_timeout_s, &err))
		goto out;
	strbuf_addf(log, "uploaded: %s:iso/%s\n", storage, name);
	rc = 0;
out:
	json_decref(list);
	json_decref(data);
	strbuf_release(&path);
	strbuf_release(&suffix);
	strbuf_release(&caname);
	return pve_finish(&p, rc, &err);
}
