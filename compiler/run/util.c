/* run_util: small helpers of the runner (see run.h). */
#define _XOPEN_SOURCE 700
#include "run.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void b64_encode(struct strbuf *out, const unsigned char *d, size_t len)
{
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
		strbuf_addch(out, b64chars[v >> 18 & 63]);
		strbuf_addch(out, b64chars[v >> 12 & 63]);
		strbuf_addch(out, b64chars[v >> 6 & 63]);
		strbuf_addch(out, b64chars[v & 63]);
	}
	if (i < len) {
		unsigned v = (unsigned)d[i] << 16 | (i + 1 < len ? (unsigned)d[i + 1] << 8 : 0);
		strbuf_addch(out, b64chars[v >> 18 & 63]);
		strbuf_addch(out, b64chars[v >> 12 & 63]);
		strbuf_addch(out, i + 1 < len ? b64chars[v >> 6 & 63] : '=');
		strbuf_addch(out, '=');
	}
}

static int b64_val(int c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;
	return p ? (int)(p - b64chars) : -1;
}

bool b64_valid(const char *s)
{
	size_t n = strlen(s), pad = 0;
	if (n % 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=') {
			pad++;
			if (i < n - 2)
				return false;
		} else if (pad || b64_val((unsigned char)s[i]) < 0) {
			return false;
		}
	}
	return true;
}

int b64_decode(struct strbuf *out, const char *in, size_t len)
{
	unsigned v = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '=')
			break;
		int x = b64_val((unsigned char)in[i]);
		if (x < 0)
			return -1;
		v = (v << 6) | (unsigned)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			strbuf_addch(out, (int)(v >> bits & 0xff));
		}
	}
	return 0;
}

int env_file_load(json_t *obj, const char *path, struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) < 0) {
		strbuf_addf(err, "cannot read env file %s: %s", path, strerror(errno));
		return -1;
	}
	char *line = sb.buf;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "export ", 7))
			p += 7;
		char *eq = strchr(p, '=');
		if (*p && *p != '#' && eq) {
			*eq = '\0';
			char *v = eq + 1;
			size_t vl = strlen(v);
			if (vl && v[vl - 1] == '\r')
				v[--vl] = '\0';
			if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
				v[vl - 1] = '\0';
				v++;
			}
			json_object_set_new(obj, p, json_string(v));
		}
		line = nl ? nl + 1 : NULL;
	}
	strbuf_release(&sb);
	return 0;
}

bool safe_name(const char *s)
{
	if (!s || !*s || s[0] == '-' || s[0] == '.')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@' || c == '+'))
			return false;
	}
	return true;
}

int mkdir_p(const char *path, int mode)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int r = mkdir(p, (mode_t)mode);
	free(p);
	return r < 0 && errno != EEXIST ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

int rm_rf(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int write_file_atomic(const char *path, const char *data, size_t len)
{
	struct strbuf tmp = STRBUF_INIT;
	strbuf_addf(&tmp, "%s.tmp", path);
	int fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		strbuf_release(&tmp);
		return -1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp.buf);
			strbuf_release(&tmp);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0 || rename(tmp.buf, path) < 0) {
		unlink(tmp.buf);
		strbuf_release(&tmp);
		return -1;
	}
	strbuf_release(&tmp);
	return 0;
}

char *state_home(const char *cluster)
{
	struct strbuf sb = STRBUF_INIT;
	const char *x = getenv("XDG_STATE_HOME");
	if (x && *x)
		strbuf_addstr(&sb, x);
	else
		strbuf_addf(&sb, "%s/.local/state", getenv("HOME") ? getenv("HOME") : "/tmp");
	strbuf_addf(&sb, "/clusterc/%s", cluster);
	return strbuf_detach(&sb, NULL);
}
