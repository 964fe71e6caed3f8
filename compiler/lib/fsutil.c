#define _XOPEN_SOURCE 700  /* nftw */
#include "fsutil.h"
#include "strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdir_in(struct strbuf *path, mode_t mode)
{
	if (!mkdir(path->buf, mode) || errno == EEXIST)
		return 0;
	char *slash = strrchr(path->buf, '/');
	if (errno != ENOENT || !slash || slash == path->buf)
		return -1;
	struct strbuf parent = STRBUF_INIT;
	strbuf_add(&parent, path->buf, (size_t)(slash - path->buf));
	int rc = mkdir_in(&parent, mode);
	strbuf_release(&parent);
	if (!rc && mkdir(path->buf, mode) && errno != EEXIST)
		rc = -1;
	return rc;
}

int mkdir_p(const char *path, mode_t mode)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, path);
	while (sb.len > 1 && sb.buf[sb.len - 1] == '/')
		strbuf_setlen(&sb, sb.len - 1);
	int rc = mkdir_in(&sb, mode);
	int saved = errno;
	strbuf_release(&sb);
	errno = saved;
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* nftw says which is a folder: one syscall each, not remove()'s
	 * unlink-then-rmdir. */
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int rm_rf(const char *path)
{
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int write_file_atomic(const char *path, const char *data, size_t len)
{
	return write_file_atomic_mode(path, data, len, 0644);
}

int write_file_atomic_mode(const char *path, const char *data, size_t len, mode_t mode)
{
	struct strbuf tmp = STRBUF_INIT;
	strbuf_addf(&tmp, "%s.tmp", path);
	int fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int rc = fd < 0 ? -1 : 0;
	/* fchmod: the umask must not narrow the mode being kept. */
	if (!rc && (fchmod(fd, mode) || write_all(fd, data, len) || fsync(fd)))
		rc = -1;
	if (fd >= 0 && close(fd) && !rc)
		rc = -1;
	if (!rc && rename(tmp.buf, path))
		rc = -1;
	int saved = errno;
	if (rc && fd >= 0)
		unlink(tmp.buf);
	strbuf_release(&tmp);
	errno = saved;
	return rc;
}

int lock_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && flock(fd, LOCK_EX)) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void rm_stale_trees(const char *parent, const char *prefix, int min_age)
{
	DIR *dir = opendir(parent);
	if (!dir)
		return;
	size_t pl = strlen(prefix);
	struct strbuf path = STRBUF_INIT;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, prefix, pl))
			continue;
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", parent, e->d_name);
		struct stat st;
		if (lstat(path.buf, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		    time(NULL) - st.st_mtime < min_age)
			continue;
		int fd = open(path.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (!flock(fd, LOCK_EX | LOCK_NB))
			rm_rf(path.buf);
		close(fd);
	}
	closedir(dir);
	strbuf_release(&path);
}
