#include "emit.h"
#include "fsutil.h"
#include "strbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long emit_fault_after = -1;
bool emit_no_exchange;

/* Writes every file under root. Folders are created as paths need them; the
 * fileset is sorted, so a folder is usually the previous file's. */
static int write_files(const char *root, const struct fileset *fs, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, lastdir = STRBUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < fs->n && !rc; i++) {
		const struct fileset_entry *e = &fs->v[i];
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", root, e->path);
		char *slash = strrchr(path.buf, '/');
		size_t dirlen = (size_t)(slash - path.buf);
		if (dirlen != lastdir.len || memcmp(lastdir.buf, path.buf, dirlen)) {
			strbuf_reset(&lastdir);
			strbuf_add(&lastdir, path.buf, dirlen);
			if ((rc = mkdir_p(lastdir.buf, 0755))) {
				strbuf_addf(err, "cannot create folder '%s': %s", lastdir.buf, strerror(errno));
				break;
			}
		}
		int fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			strbuf_addf(err, "cannot create '%s': %s", path.buf, strerror(errno));
			rc = -1;
			break;
		}
		bool fault = emit_fault_after >= 0 && (long)i == emit_fault_after;
		if (fault)
			errno = ENOSPC;
		/* fchmod: the mode must not depend on the caller's umask. */
		if (fault || write_all(fd, e->data, e->len) || fchmod(fd, e->mode & 07777)) {
			strbuf_addf(err, "cannot write '%s': %s", path.buf, strerror(errno));
			rc = -1;
		}
#ifndef __linux__
		if (!rc && fsync(fd)) {
			strbuf_addf(err, "cannot flush '%s': %s", path.buf, strerror(errno));
			rc = -1;
		}
#endif
		if (close(fd) && !rc) {
			strbuf_addf(err, "cannot write '%s': %s", path.buf, strerror(errno));
			rc = -1;
		}
	}
#ifdef __linux__
	/* One syncfs flushes every file and folder just written; an fsync per
	 * file would cost a disk flush each for 10,000-node builds. */
	if (!rc) {
		int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd)) {
			strbuf_addf(err, "cannot flush '%s': %s", root, strerror(errno));
			rc = -1;
		}
		if (fd >= 0)
			close(fd);
	}
#endif
	strbuf_release(&path);
	strbuf_release(&lastdir);
	return rc;
}

static int swap_in(const char *tmp, const char *target, const char *outdir, const char *name,
		   struct strbuf *err)
{
	struct stat st;
	if (lstat(target, &st)) {
		if (errno != ENOENT) {
			strbuf_addf(err, "cannot inspect '%s': %s", target, strerror(errno));
			return -1;
		}
		if (rename(tmp, target)) {
			strbuf_addf(err, "cannot rename '%s' to '%s': %s", tmp, target, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		strbuf_addf(err, "'%s' exists and is not a folder; not replacing it", target);
		return -1;
	}
#ifdef RENAME_EXCHANGE
	if (emit_no_exchange)
		errno = ENOSYS;
	else if (!renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE)) {
		/* tmp now holds the old output. */
		rm_rf(tmp);
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
		strbuf_addf(err, "cannot replace '%s': %s", target, strerror(errno));
		return -1;
	}
#endif
	/* No atomic exchange here: move the old tree aside, the new one in,
	 * and put the old one back if that fails. */
	struct strbuf old = STRBUF_INIT;
	strbuf_addf(&old, "%s/.%s.old-XXXXXX", outdir, name);
	if (!mkdtemp(old.buf) || rmdir(old.buf) || rename(target, old.buf)) {
		strbuf_addf(err, "cannot move '%s' aside: %s", target, strerror(errno));
		strbuf_release(&old);
		return -1;
	}
	if (rename(tmp, target)) {
		int saved = errno;
		rename(old.buf, target);
		strbuf_addf(err, "cannot rename '%s' to '%s': %s", tmp, target, strerror(saved));
		strbuf_release(&old);
		return -1;
	}
	rm_rf(old.buf);
	strbuf_release(&old);
	return 0;
}

/* An unlocked .<name>.tmp-* tree 10 s old is an interrupted build's.
 * (.<name>.old-* is never removed: an interrupted swap_in may have left the
 * only copy of the output there.) */
#define STALE_AGE_S 10

int emit_write(const char *outdir, const char *cluster_name, const struct fileset *fs,
	       struct diag *d)
{
	if (!*cluster_name || strchr(cluster_name, '/') || cluster_name[0] == '.') {
		diag_error(d, LOC_NONE, "C0602", "cluster name '%s' cannot name an output folder (it is empty, "
			   "contains '/' or starts with '.')", cluster_name);
		return -1;
	}
	struct strbuf err = STRBUF_INIT, tmp = STRBUF_INIT, target = STRBUF_INIT;
	int held = -1; /* our flock on the tree we write: it is not stale */
	int rc = mkdir_p(outdir, 0755);
	if (rc)
		strbuf_addf(&err, "cannot create folder '%s': %s", outdir, strerror(errno));
	if (!rc) {
		strbuf_addf(&tmp, "%s/.%s.tmp-XXXXXX", outdir, cluster_name);
		strbuf_addf(&target, "%s/%s", outdir, cluster_name);
		struct strbuf stale = STRBUF_INIT;
		strbuf_addf(&stale, ".%s.tmp-", cluster_name);
		rm_stale_trees(outdir, stale.buf, STALE_AGE_S);
		strbuf_release(&stale);
		if (!mkdtemp(tmp.buf)) {
			strbuf_addf(&err, "cannot create a temporary folder in '%s': %s", outdir,
				    strerror(errno));
			rc = -1;
		} else if ((held = lock_tree(tmp.buf)) < 0 || chmod(tmp.buf, 0755) ||
			   write_files(tmp.buf, fs, &err) ||
			   swap_in(tmp.buf, target.buf, outdir, cluster_name, &err)) {
			if (!err.len)
				strbuf_addf(&err, "cannot prepare '%s': %s", tmp.buf, strerror(errno));
			rm_rf(tmp.buf);
			rc = -1;
		} else if (fsync_dir(outdir)) {
			/* The swap happened; only its durability is in doubt. */
			strbuf_addf(&err, "cannot flush '%s': %s", outdir, strerror(errno));
			rc = -1;
		}
	}
	if (held >= 0)
		close(held);
	if (rc)
		diag_error(d, LOC_NONE, "C0603", "%s", err.buf);
	strbuf_release(&err);
	strbuf_release(&tmp);
	strbuf_release(&target);
	return rc;
}
