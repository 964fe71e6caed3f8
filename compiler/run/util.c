/* run_util: small helpers of the runner (see run.h). */
#include "dotenv.h"
#include "run.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
	struct dotenv env = DOTENV_INIT;
	int rc = dotenv_load_file(&env, path, err);
	for (size_t i = 0; rc == 0 && i < env.n; i++) {
		/* jansson holds UTF-8 only; a value it refuses is an error, not a
		 * secret that silently goes missing. */
		json_t *v = json_string(env.vars[i].value);
		if (!v) {
			strbuf_addf(err, "%s: the value of %s is not UTF-8 text", path, env.vars[i].name);
			rc = -1;
		} else {
			json_object_set_new(obj, env.vars[i].name, v);
		}
	}
	dotenv_release(&env);
	return rc;
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
