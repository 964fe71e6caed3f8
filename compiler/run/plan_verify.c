/* run_plan_verify: every step's hash recomputed from plan.json and the files
 * it names (lib/step_hash.c, the build's own function) before anything is
 * contacted. An out/ edited after review would otherwise run on fresh hosts
 * under the reviewed hash and be skipped on the others: what was reviewed is
 * what runs. */
#include "run.h"
#include "proc.h"
#include "sort.h"
#include "step_hash.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What the files of one step looked like on disk, for the message. */
struct verify_ctx {
	const struct run_plan *p;
	const struct step *s;
	struct sha256 c;
	struct timespec newest;
	struct strbuf newest_path; /* the most recently modified file so far */
	struct strbuf *err;
};

static bool later(struct timespec a, struct timespec b)
{
	return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

/* Appends the regular files under rel (a folder ending in '/'), recursively. */
static int list_folder(const char *dir, const char *rel, struct strvec *out)
{
	struct strbuf full = STRBUF_INIT;
	strbuf_addf(&full, "%s/%s", dir, rel);
	DIR *d = opendir(full.buf);
	strbuf_release(&full);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct strbuf sub = STRBUF_INIT;
		strbuf_addf(&sub, "%s%s", rel, e->d_name);
		struct strbuf path = STRBUF_INIT;
		strbuf_addf(&path, "%s/%s", dir, sub.buf);
		struct stat st;
		if (lstat(path.buf, &st) < 0) {
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			strbuf_addch(&sub, '/');
			rc = list_folder(dir, sub.buf, out);
		} else {
			/* A symlink or device too: the hash check below refuses it. */
			strvec_push(out, sub.buf);
		}
		strbuf_release(&path);
		strbuf_release(&sub);
	}
	closedir(d);
	return rc;
}

static int hash_one(struct verify_ctx *v, const char *rel)
{
	struct strbuf path = STRBUF_INIT, data = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", v->p->dir, rel);
	struct stat st;
	int rc = -1;
	if (lstat(path.buf, &st) < 0) {
		strbuf_addf(v->err, "%s/plan.json: step '%s' names '%s', which is not there (%s): "
			    "what was reviewed is what runs; build again", v->p->dir, v->s->id, rel,
			    strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		strbuf_addf(v->err, "%s/plan.json: step '%s' names '%s', which is no longer a "
			    "regular file: what was reviewed is what runs; build again", v->p->dir,
			    v->s->id, rel);
	} else if (strbuf_read_file(&data, path.buf) < 0) {
		strbuf_addf(v->err, "%s: %s", path.buf, strerror(errno));
	} else {
		step_hash_file(&v->c, rel, (unsigned)(st.st_mode & 07777), data.buf, data.len);
		if (!v->newest_path.len || later(st.st_mtim, v->newest)) {
			v->newest = st.st_mtim;
			strbuf_reset(&v->newest_path);
			strbuf_addstr(&v->newest_path, rel);
		}
		rc = 0;
	}
	strbuf_release(&data);
	strbuf_release(&path);
	return rc;
}

/* The step's files in the order the build hashed them: each entry in
 * plan.json order, a folder's files in path order. */
static int step_files(const struct run_plan *p, const struct step *s, struct strvec *out,
		      struct strbuf *err)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		const char *f = s->files[i];
		size_t n = strlen(f);
		if (!n || f[n - 1] != '/') {
			strvec_push(out, f);
			continue;
		}
		size_t first = out->n;
		if (list_folder(p->dir, f, out) < 0) {
			strbuf_addf(err, "%s/plan.json: step '%s' names folder '%s', which cannot be "
				    "read (%s): what was reviewed is what runs; build again", p->dir,
				    s->id, f, strerror(errno));
			return -1;
		}
		qsort(out->v + first, out->n - first, sizeof(char *), cmp_str_ptr);
	}
	return 0;
}

/* Hashes step i into hash; v->newest_path is then its most recently modified file. */
static int hash_step(struct verify_ctx *v, size_t i, struct strbuf *hash)
{
	const struct run_plan *p = v->p;
	const struct step *s = &p->steps[i];
	step_hash_begin(&v->c, json_array_get(json_object_get(p->root, "steps"), s->index));
	struct strvec files = STRVEC_INIT;
	int rc = step_files(p, s, &files, v->err);
	for (size_t f = 0; !rc && f < files.n; f++)
		rc = hash_one(v, files.v[f]);
	if (!rc)
		step_hash_finish(&v->c, hash);
	strvec_clear(&files);
	return rc;
}

int run_plan_step_hash(const struct run_plan *p, size_t i, struct strbuf *hash,
		       struct strbuf *err)
{
	struct verify_ctx v = { .p = p, .s = &p->steps[i], .err = err,
				.newest_path = STRBUF_INIT };
	int rc = hash_step(&v, i, hash);
	strbuf_release(&v.newest_path);
	return rc;
}

static int verify_step(const struct run_plan *p, size_t i, struct timespec plan_mtime,
		       struct strbuf *err)
{
	const struct step *s = &p->steps[i];
	struct verify_ctx v = { .p = p, .s = s, .err = err, .newest_path = STRBUF_INIT };
	struct strbuf got = STRBUF_INIT;
	int rc = hash_step(&v, i, &got);
	if (!rc && strcmp(got.buf, s->hash)) {
		/* An edit after the build is the newest of the step's files and
		 * plan.json: name it. */
		const char *what = v.newest_path.len && later(v.newest, plan_mtime)
					   ? v.newest_path.buf : "plan.json";
		strbuf_addf(err, "%s/plan.json: step '%s' does not match the hash it was reviewed "
			    "under: its entry or its files changed after the build (most recently "
			    "modified: %s). What was reviewed is what runs: build again and review "
			    "the plan", p->dir, s->id, what);
		rc = -1;
	}
	strbuf_release(&v.newest_path);
	strbuf_release(&got);
	return rc;
}

int run_plan_verify(const struct run_plan *p, struct strbuf *err)
{
	struct strbuf plan = STRBUF_INIT;
	strbuf_addf(&plan, "%s/plan.json", p->dir);
	struct stat st;
	struct timespec plan_mtime = { 0, 0 };
	if (stat(plan.buf, &st) == 0)
		plan_mtime = st.st_mtim;
	strbuf_release(&plan);
	for (size_t i = 0; i < p->nsteps; i++)
		if (verify_step(p, i, plan_mtime, err) < 0)
			return -1;
	return 0;
}
