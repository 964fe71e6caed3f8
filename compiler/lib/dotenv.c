#include "dotenv.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

static const char bom[] = "\xef\xbb\xbf";

static size_t bom_len(const char *text, size_t len)
{
	return len >= 3 && !memcmp(text, bom, 3) ? 3 : 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_start(char c)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static void set_var(struct dotenv *env, const char *name, size_t nlen, char *value)
{
	for (size_t i = 0; i < env->n; i++) {
		if (strlen(env->vars[i].name) == nlen && !memcmp(env->vars[i].name, name, nlen)) {
			xfree_secret(env->vars[i].value);
			env->vars[i].value = value;
			return;
		}
	}
	XGROW(env->vars, env->cap, env->n + 1);
	env->vars[env->n].name = xstrndup(name, nlen);
	env->vars[env->n].value = value;
	env->n++;
}

/* One line being read: [p, end) is what is left of it. */
struct line {
	const char *text;  /* the whole text, for offsets */
	size_t start, p, end;
	unsigned no;
};

static void skip_blanks(struct line *l)
{
	while (l->p < l->end && is_blank(l->text[l->p]))
		l->p++;
}

static void report(struct line *l, size_t at, size_t to, const char *reason, const char *hint,
		   dotenv_error_fn *on_error, void *ctx)
{
	if (!on_error)
		return;
	struct dotenv_error e = {
		.start = at, .end = to > at ? to : at + 1, .line = l->no,
		.col = (unsigned)(at - l->start + 1), .reason = reason, .hint = hint,
	};
	if (e.end > l->end)
		e.end = l->end > at ? l->end : at;
	on_error(ctx, &e);
}

/* The value of a quoted string that opens at l->p; NULL when it is not closed
 * on this line. */
static char *read_quoted(struct line *l)
{
	char q = l->text[l->p++];
	struct strbuf v = STRBUF_INIT;
	while (l->p < l->end) {
		char c = l->text[l->p++];
		if (c == q) {
			return strbuf_detach(&v, NULL);
		}
		if (c == '\\' && q == '"' && l->p < l->end) {
			char n = l->text[l->p];
			const char *from = "\\\"'ntr", *to = "\\\"'\n\t\r";
			const char *k = strchr(from, n);
			if (n && k) {
				strbuf_addch(&v, to[k - from]);
				l->p++;
				continue;
			}
		}
		strbuf_addch(&v, c);
	}
	strbuf_wipe(&v);
	return NULL;
}

static char *read_unquoted(struct line *l)
{
	size_t vs = l->p, ve = l->end;
	for (size_t k = vs; k < ve; k++)
		if (l->text[k] == '#' && k > vs && is_blank(l->text[k - 1])) {
			ve = k;
			break;
		}
	while (ve > vs && is_blank(l->text[ve - 1]))
		ve--;
	l->p = l->end;
	return xstrndup(l->text + vs, ve - vs);
}

/* Reads one assignment line; returns false (after reporting) when malformed. */
static bool parse_line(struct dotenv *env, struct line *l, dotenv_error_fn *on_error, void *ctx)
{
	const char *t = l->text;
	skip_blanks(l);
	if (l->p == l->end || t[l->p] == '#')
		return true;
	if (l->end - l->p > 7 && !memcmp(t + l->p, "export", 6) && is_blank(t[l->p + 6])) {
		l->p += 6;
		skip_blanks(l);
	}
	size_t ns = l->p;
	if (l->p < l->end && is_name_start(t[l->p]))
		while (l->p < l->end && is_name_char(t[l->p]))
			l->p++;
	size_t ne = l->p;
	if (ne == ns) {
		report(l, ns, ns + 1, "expected a variable name", "write NAME=value; a name is letters, digits "
		       "and '_' and does not start with a digit", on_error, ctx);
		return false;
	}
	skip_blanks(l);
	if (l->p >= l->end || t[l->p] != '=') {
		report(l, l->p, l->p + 1, "expected '=' after the variable name",
		       "write NAME=value; a name is letters, digits and '_'", on_error, ctx);
		return false;
	}
	l->p++;
	skip_blanks(l);
	char *value;
	if (l->p < l->end && (t[l->p] == '"' || t[l->p] == '\'')) {
		size_t open = l->p;
		value = read_quoted(l);
		if (!value) {
			report(l, open, open + 1, t[open] == '"' ? "unterminated double quote" :
			       "unterminated single quote", "close the quote on the same line; "
			       "values cannot span lines", on_error, ctx);
			return false;
		}
		skip_blanks(l);
		if (l->p < l->end && t[l->p] != '#') {
			xfree_secret(value);
			report(l, l->p, l->end, "unexpected text after the closing quote",
			       "put the whole value inside the quotes, or start a comment with '#'",
			       on_error, ctx);
			return false;
		}
	} else {
		value = read_unquoted(l);
	}
	set_var(env, t + ns, ne - ns, value);
	return true;
}

size_t dotenv_parse(struct dotenv *env, const char *text, size_t len, dotenv_error_fn *on_error,
		    void *ctx)
{
	size_t skip = bom_len(text, len);
	text += skip;
	len -= skip;
	size_t errors = 0;
	struct line l = { .text = text, .no = 0 };
	for (size_t i = 0; i < len;) {
		l.start = l.p = i;
		while (i < len && text[i] != '\n')
			i++;
		l.end = i;
		if (l.end > l.start && text[l.end - 1] == '\r')
			l.end--;
		l.no++;
		if (i < len)
			i++;
		if (!parse_line(env, &l, on_error, ctx))
			errors++;
	}
	return errors;
}

/* The current file's path is what dotenv_read_cluster's on_file last named. */
struct file_errors {
	const char *path;
	struct strbuf *err;
	size_t files;  /* read so far, by dotenv_load_cluster */
};

static void add_file_error(void *ctx, const struct dotenv_error *e)
{
	struct file_errors *fe = ctx;
	strbuf_addf(fe->err, "%s%s:%u:%u: %s (%s)", fe->err->len ? "\n" : "", fe->path, e->line,
		    e->col, e->reason, e->hint);
}

int dotenv_load_file(struct dotenv *env, const char *path, struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) < 0) {
		strbuf_addf(err, "cannot read env file %s: %s", path, strerror(errno));
		return -1;
	}
	struct file_errors fe = { path, err, 1 };
	size_t bad = dotenv_parse(env, sb.buf, sb.len, add_file_error, &fe);
	strbuf_wipe(&sb);
	return bad ? -1 : 0;
}

/* name in the folder of cluster_path, spelled as the resolver spells the
 * paths it reads: bare when that folder is "." ("./a.cluster" reads ".env"). */
static char *beside(const char *cluster_path, const char *name, size_t nlen)
{
	struct strbuf sb = STRBUF_INIT;
	const char *slash = strrchr(cluster_path, '/');
	size_t dlen = slash ? (size_t)(slash - cluster_path) : 0;
	if (slash == cluster_path)
		strbuf_addch(&sb, '/');
	else if (slash && !(dlen == 1 && cluster_path[0] == '.'))
		strbuf_addf(&sb, "%.*s/", (int)dlen, cluster_path);
	strbuf_add(&sb, name, nlen);
	return strbuf_detach(&sb, NULL);
}

void dotenv_cluster_paths(const char *cluster_path, char **generic, char **specific)
{
	const char *base = strrchr(cluster_path, '/');
	base = base ? base + 1 : cluster_path;
	const char *dot = strrchr(base, '.');
	size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	struct strbuf sb = STRBUF_INIT;
	strbuf_add(&sb, base, stem);
	strbuf_addstr(&sb, ".env");
	*generic = beside(cluster_path, ".env", 4);
	*specific = beside(cluster_path, sb.buf, sb.len);
	strbuf_release(&sb);
}

size_t dotenv_read_cluster(struct dotenv *env, const char *cluster_path, dotenv_file_fn *on_file,
			   dotenv_error_fn *on_error, void *ctx)
{
	char *paths[2];
	dotenv_cluster_paths(cluster_path, &paths[0], &paths[1]);
	size_t bad = 0;
	for (size_t i = 0; i < 2; i++) {
		struct strbuf sb = STRBUF_INIT;
		if (strbuf_read_file(&sb, paths[i]) >= 0) {
			if (on_file)
				on_file(ctx, paths[i], sb.buf, sb.len);
			bad += dotenv_parse(env, sb.buf, sb.len, on_error, ctx);
			strbuf_wipe(&sb);
		} else {
			strbuf_release(&sb);
		}
		free(paths[i]);
	}
	return bad;
}

/* on_file of dotenv_load_cluster: later errors are in path (which lives
 * until dotenv_read_cluster has parsed it). */
static void name_file(void *ctx, const char *path, const char *text, size_t len)
{
	(void)text;
	(void)len;
	struct file_errors *fe = ctx;
	fe->path = path;
	fe->files++;
}

int dotenv_load_cluster(struct dotenv *env, const char *cluster_path, struct strbuf *err)
{
	struct file_errors fe = { NULL, err, 0 };
	size_t bad = dotenv_read_cluster(env, cluster_path, name_file, add_file_error, &fe);
	return bad ? -1 : (int)fe.files;
}

void dotenv_format(const struct dotenv *env, struct strbuf *out)
{
	static const char special[] = "\\\"\n\r\t", escaped[] = "\\\"nrt";
	for (size_t i = 0; i < env->n; i++) {
		strbuf_addf(out, "%s=\"", env->vars[i].name);
		for (const char *v = env->vars[i].value; *v; v++) {
			const char *k = strchr(special, *v);
			if (k) {
				strbuf_addch(out, '\\');
				strbuf_addch(out, escaped[k - special]);
			} else {
				strbuf_addch(out, *v);
			}
		}
		strbuf_addstr(out, "\"\n");
	}
}

const char *dotenv_get(const struct dotenv *env, const char *name)
{
	for (size_t i = 0; i < env->n; i++)
		if (!strcmp(env->vars[i].name, name))
			return env->vars[i].value;
	return NULL;
}

const char *dotenv_lookup(const struct dotenv *env, const char *name)
{
	const char *v = getenv(name);
	return v ? v : dotenv_get(env, name);
}

char *dotenv_mask(const char *text, size_t len, size_t *out_len)
{
	size_t skip = bom_len(text, len);
	char *m = xmalloc(len - skip + 1);
	memcpy(m, text + skip, len - skip);
	len -= skip;
	m[len] = '\0';
	for (size_t i = 0; i < len;) {
		size_t s = i;
		while (i < len && m[i] != '\n')
			i++;
		size_t e = i < len ? i++ : i;
		if (e > s && m[e - 1] == '\r')
			e--;
		const char *eq = memchr(m + s, '=', e - s);
		size_t from;
		if (eq) {
			from = (size_t)(eq - m) + 1;
		} else {
			from = s;
			while (from < e && is_blank(m[from]))
				from++;
			if (from < e && m[from] == '#')
				continue;  /* a comment with no '=' holds no value */
			if (e - from > 7 && !memcmp(m + from, "export", 6) && is_blank(m[from + 6]))
				from += 7;
			while (from < e && is_blank(m[from]))
				from++;
			while (from < e && is_name_char(m[from]))
				from++;
		}
		/* The quotes stay visible: a caret under an unterminated quote
		 * should point at a quote. */
		while (from < e && is_blank(m[from]))
			from++;
		size_t to = e;
		if (from < e && (m[from] == '"' || m[from] == '\'')) {
			if (e - from > 1 && m[e - 1] == m[from])
				to = e - 1;
			from++;
		}
		for (size_t k = from; k < to; k++)
			m[k] = '*';
	}
	*out_len = len;
	return m;
}

void dotenv_release(struct dotenv *env)
{
	for (size_t i = 0; i < env->n; i++) {
		free(env->vars[i].name);
		xfree_secret(env->vars[i].value);
	}
	free(env->vars);
	env->vars = NULL;
	env->n = env->cap = 0;
}
