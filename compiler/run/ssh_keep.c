#include "ssh_keep.h"
#include "fsutil.h"
#include "sha256.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ssh binds "<ControlPath>.<16 random characters>" first, then renames it:
 * the longer name must fit a socket address. */
#define KEEP_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 18)

/* A directory nobody else can change: this user's (or root's, when
 * root_ok), not a symlink, not writable by group or others; with
 * private_mode, no access at all for them. */
static bool dir_trusted(const char *path, bool root_ok, bool private_mode, struct strbuf *why)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		int e = errno;
		strbuf_addf(why, "%s: %s", path, strerror(e));
		errno = e;
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		strbuf_addf(why, "%s is not a directory (or is a symlink)", path);
		return false;
	}
	if (st.st_uid != geteuid() && !(root_ok && st.st_uid == 0)) {
		strbuf_addf(why, "%s belongs to uid %ld, not to this user", path, (long)st.st_uid);
		return false;
	}
	if (st.st_mode & (private_mode ? 077 : 022)) {
		strbuf_addf(why, "%s has mode %04o, not %s", path, (unsigned)(st.st_mode & 07777),
			    private_mode ? "0700" : "writable by its owner only");
		return false;
	}
	return true;
}

/* Creates path (mode 0700) when missing, then checks it is private. */
static bool private_subdir(const char *path, struct strbuf *why)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		strbuf_addf(why, "cannot create %s: %s", path, strerror(errno));
		return false;
	}
	return dir_trusted(path, false, true, why);
}

/* The hex digest of the cluster's name, cut to n digits. */
static void short_hash(struct strbuf *out, const void *data, size_t len, size_t n)
{
	struct strbuf h = STRBUF_INIT;
	sha256_hex(&h, data, len);
	strbuf_add(out, h.buf, n < h.len ? n : h.len);
	strbuf_release(&h);
}

/* The base directory and, when it is ~/.cache, the home above it. */
static char *keep_base(struct strbuf *why)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	struct strbuf sb = STRBUF_INIT;
	if (rt && rt[0] == '/') {
		if (!dir_trusted(rt, false, true, why))
			goto fail;
		strbuf_addf(&sb, "%s/clusterc", rt);
		if (!private_subdir(sb.buf, why))
			goto fail;
		return strbuf_detach(&sb, NULL);
	}
	const char *home = getenv("HOME");
	if (!home || home[0] != '/') {
		strbuf_addstr(why, "neither XDG_RUNTIME_DIR nor HOME names a directory");
		goto fail;
	}
	if (!dir_trusted(home, true, false, why))
		goto fail;
	strbuf_addf(&sb, "%s/.cache", home);
	if (mkdir(sb.buf, 0700) < 0 && errno != EEXIST) {
		strbuf_addf(why, "cannot create %s: %s", sb.buf, strerror(errno));
		goto fail;
	}
	if (!dir_trusted(sb.buf, false, false, why))
		goto fail;
	strbuf_addstr(&sb, "/clusterc-ssh");
	if (!private_subdir(sb.buf, why))
		goto fail;
	return strbuf_detach(&sb, NULL);
fail:
	strbuf_release(&sb);
	return NULL;
}

static char *cluster_dir(const char *cluster, bool create, struct strbuf *why)
{
	const char *off = getenv("CLUSTERC_SSH_KEEP");
	if (off && !strcmp(off, "0"))
		return NULL;
	char *base = keep_base(why);
	if (!base)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/", base);
	free(base);
	short_hash(&sb, cluster, strlen(cluster), 12);
	bool ok = create ? private_subdir(sb.buf, why) : dir_trusted(sb.buf, false, true, why);
	/* "/<8>-<16>" below it */
	if (ok && sb.len + 26 > KEEP_PATH_MAX) {
		strbuf_addf(why, "%s is too long for a socket name", sb.buf);
		ok = false;
	}
	if (!ok) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

char *keep_dir(const char *cluster, struct strbuf *why)
{
	return cluster_dir(cluster, true, why);
}

static void host_id(struct strbuf *out, const struct ssh_host *h)
{
	short_hash(out, h->name, strlen(h->name), 8);
}

/* Adds a file's content to the hash (its path is in the command line, or
 * is new every run): a missing file hashes as "none". */
static void hash_file(struct sha256 *c, const char *path)
{
	struct strbuf b = STRBUF_INIT;
	if (path && strbuf_read_file(&b, path) >= 0)
		sha256_update(c, b.buf, b.len);
	else
		sha256_update(c, "none", 4);
	sha256_update(c, "", 1);
	strbuf_release(&b);
}

void keep_socket_path(struct strbuf *out, const char *dir, const struct ssh_host *h,
		      const struct strvec *master_argv, const char *config)
{
	struct sha256 c;
	sha256_init(&c);
	for (size_t i = 0; i < master_argv->n; i++)
		sha256_update(&c, master_argv->v[i], strlen(master_argv->v[i]) + 1);
	hash_file(&c, config);
	hash_file(&c, h->known_hosts);
	hash_file(&c, h->learned_hosts);
	/* The identity file itself is a secret: its identity is enough. */
	struct stat st;
	if (h->key && stat(h->key, &st) == 0) {
		long long v[4] = { (long long)st.st_dev, (long long)st.st_ino, (long long)st.st_size,
				   (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec };
		sha256_update(&c, v, sizeof(v));
	}
	struct strbuf hex = STRBUF_INIT;
	sha256_final_hex(&c, &hex);
	strbuf_addf(out, "%s/", dir);
	host_id(out, h);
	strbuf_addch(out, '-');
	strbuf_add(out, hex.buf, 16);
	strbuf_release(&hex);
}

/* Asks the master at sock to exit; only the mux socket is used. */
static bool close_master(const char *sock)
{
	struct strvec av = STRVEC_INIT;
	struct strbuf out = STRBUF_INIT;
	strvec_push(&av, "ssh");
	strvec_push(&av, "-F");
	strvec_push(&av, "/dev/null");
	strvec_pushf(&av, "-oControlPath=%s", sock);
	strvec_push(&av, "-O");
	strvec_push(&av, "exit");
	strvec_push(&av, "clusterc-kept-master");
	int rc = proc_run_sync((const char *const *)av.v, NULL, NULL, &out);
	strvec_clear(&av);
	strbuf_release(&out);
	/* A dead master leaves its socket behind: nobody answers on it. */
	unlink(sock);
	return rc == 0;
}

/* Closes the masters in dir whose names start with prefix (all: ""), but
 * keep; returns how many answered. */
static int close_matching(const char *dir, const char *prefix, const char *keep, bool quiet)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	struct strbuf p = STRBUF_INIT;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p.buf, &st) < 0 || !S_ISSOCK(st.st_mode) || (keep && !strcmp(p.buf, keep)))
			continue;
		if (close_master(p.buf)) {
			n++;
			if (!quiet)
				printf("closed %s\n", p.buf);
		}
	}
	closedir(d);
	strbuf_release(&p);
	return n;
}

void keep_close_stale(const char *dir, const struct ssh_host *h, const char *current)
{
	struct strbuf prefix = STRBUF_INIT;
	host_id(&prefix, h);
	strbuf_addch(&prefix, '-');
	close_matching(dir, prefix.buf, current, true);
	strbuf_release(&prefix);
}

static void run_file(struct strbuf *sb, const char *dir, const char *token)
{
	strbuf_addf(sb, "%s/run.", dir);
	for (const char *c = token; *c; c++)
		strbuf_addch(sb, (*c == '/' || *c == '.') ? '_' : *c);
}

int keep_run_hold(const char *dir, const char *token, struct strbuf *err)
{
	struct strbuf p = STRBUF_INIT;
	run_file(&p, dir, token);
	int fd = open(p.buf, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		strbuf_addf(err, "cannot hold %s: %s", p.buf, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	strbuf_release(&p);
	return fd;
}

bool keep_run_alive(const char *dir, const char *token)
{
	struct strbuf p = STRBUF_INIT;
	run_file(&p, dir, token);
	int fd = open(p.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool alive = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (fd >= 0)
		close(fd);
	strbuf_release(&p);
	return alive;
}

void keep_run_release(const char *dir, const char *token, int fd)
{
	struct strbuf p = STRBUF_INIT;
	run_file(&p, dir, token);
	unlink(p.buf);
	close(fd);
	strbuf_release(&p);
}

int keep_disconnect(const char *cluster, bool quiet, struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT;
	char *dir = cluster_dir(cluster, false, &why);
	if (!dir) {
		int rc = 0;
		if (why.len && errno != ENOENT) {
			strbuf_addf(err, "no kept connections used: %s", why.buf);
			rc = -1;
		}
		strbuf_release(&why);
		return rc;
	}
	strbuf_release(&why);
	int n = close_matching(dir, "", NULL, quiet);
	/* A run that is going on keeps its file there, and the directory. */
	if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY) {
		strbuf_addf(err, "cannot remove %s: %s", dir, strerror(errno));
		n = -1;
	}
	free(dir);
	return n;
}
