#include "resolve.h"
#include "quote.h"
#include "strbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void unit_init(struct unit *u, struct diag *d)
{
	memset(u, 0, sizeof(*u));
	arena_init(&u->arena);
	u->diag = d;
}

void unit_release(struct unit *u)
{
	arena_release(&u->arena);
	free(u->blocks);
	free(u->main_path);
	free(u->main_dir);
	dotenv_release(&u->dotenv);
	for (size_t i = 0; i < u->nenv_files; i++)
		free(u->env_files[i]);
	free(u->env_files);
	for (size_t i = 0; i < u->nmissing; i++)
		free(u->missing_env[i]);
	free(u->missing_env);
	memset(u, 0, sizeof(*u));
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Joins a relative path to the directory of the file that names it. */
static char *path_join(const char *dir, const char *rel)
{
	struct strbuf sb = STRBUF_INIT;
	if (rel[0] == '/' || !strcmp(dir, "."))
		strbuf_addstr(&sb, rel);
	else
		strbuf_addf(&sb, "%s/%s", dir, rel);
	return strbuf_detach(&sb, NULL);
}

const char *unit_getenv(const struct unit *u, const char *name)
{
	return dotenv_lookup(&u->dotenv, name);
}

/* The .env file being read, for the diagnostics of its malformed lines. */
struct dotenv_file {
	struct unit *u;
	int32_t file;
};

/* The diagnostics see a masked copy, so a snippet under an error never shows
 * a value. */
static void dotenv_opened(void *ctx, const char *path, const char *text, size_t len)
{
	struct dotenv_file *f = ctx;
	struct unit *u = f->u;
	size_t mlen;
	char *masked = dotenv_mask(text, len, &mlen);
	f->file = diag_add_source(u->diag, path, masked, mlen);
	u->env_files = xrealloc(u->env_files, (u->nenv_files + 1) * sizeof(char *));
	u->env_files[u->nenv_files++] = xstrdup(path);
}

static void dotenv_error(void *ctx, const struct dotenv_error *e)
{
	const struct dotenv_file *f = ctx;
	diag_error(f->u->diag, (struct loc){ f->file, (uint32_t)e->start, (uint32_t)e->end }, "C0503", "%s", e->reason);
	diag_hint(f->u->diag, "%s", e->hint);
}

/* The files and their order are lib/dotenv's to decide, so apply reads the
 * same ones. */
static void load_dotenv(struct unit *u, const char *cluster_path)
{
	struct dotenv_file f = { u, -1 };
	dotenv_read_cluster(&u->dotenv, cluster_path, dotenv_opened, dotenv_error, &f);
}

/* ---- loading and imports ---- */

struct file_stack {
	const char *real;
	const char *path;  /* as named, for messages */
	const struct file_stack *up;
};

struct seen {
	char **real;
	size_t n, cap;
};

static bool seen_has(const struct seen *s, const char *real)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->real[i], real))
			return true;
	return false;
}

static void evaluate(struct unit *u, struct ast_node *n, const char *dir);
static void load_source(struct unit *u, int32_t file, const char *path,
			const struct file_stack *me, struct seen *seen);

static void load(struct unit *u, const char *path, struct loc from, const struct file_stack *stack,
		 struct seen *seen)
{
	char *real = realpath(path, NULL);
	if (!real) {
		if (from.file < 0)
			diag_error(u->diag, from, "C0201", "cannot read '%s': %s", path, strerror(errno));
		else
			diag_error(u->diag, from, "C0202", "cannot import '%s': %s", path, strerror(errno));
		return;
	}
	for (const struct file_stack *s = stack; s; s = s->up) {
		if (strcmp(s->real, real))
			continue;
		if (s == stack) {
			diag_error(u->diag, from, "C0203", "import cycle: '%s' imports itself", path);
		} else {
			/* Name the whole chain, from the file imported again back to it. */
			size_t n = 0;
			for (const struct file_stack *t = stack; t != s; t = t->up)
				n++;
			const char **chain = xcalloc(n, sizeof(*chain));
			size_t k = n;
			for (const struct file_stack *t = stack; t != s; t = t->up)
				chain[--k] = t->path;
			struct strbuf sb = STRBUF_INIT;
			strbuf_addf(&sb, "'%s'", s->path);
			for (size_t i = 0; i < n; i++)
				strbuf_addf(&sb, " imports '%s'", chain[i]);
			strbuf_addf(&sb, ", which imports '%s' again", path);
			diag_error(u->diag, from, "C0204", "import cycle: %s", sb.buf);
			strbuf_release(&sb);
			free(chain);
		}
		free(real);
		return;
	}
	if (seen_has(seen, real)) {
		free(real); /* imported already: each file once */
		return;
	}
	struct stat st;
	if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
		diag_error(u->diag, from, "C0205", "cannot read '%s': it is a directory", path);
		free(real);
		return;
	}
	XGROW(seen->real, seen->cap, seen->n + 1);
	seen->real[seen->n++] = real;

	if (from.file >= 0 && stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* An imported device or pipe could block or never end. */
		diag_error(u->diag, from, "C0206", "cannot read '%s': it is not a regular file", path);
		return;
	}
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) < 0) {
		diag_error(u->diag, from, "C0201", "cannot read '%s': %s", path, strerror(errno));
		strbuf_release(&sb);
		return;
	}
	size_t len = sb.len;
	int32_t file = diag_add_source(u->diag, path, strbuf_detach(&sb, NULL), len);
	struct file_stack me = { real, path, stack };
	load_source(u, file, path, &me, seen);
}

/* Parses a registered source and takes in its items: imports are loaded in
 * place, blocks evaluated and appended. */
static void load_source(struct unit *u, int32_t file, const char *path,
			const struct file_stack *me, struct seen *seen)
{
	struct ast_node *items = parse_source(&u->arena, u->diag, file);
	char *dir = dir_of(path);
	for (struct ast_node *it = items; it;) {
		struct ast_node *next = it->next;
		if (it->kind == AST_IMPORT && u->no_disk) {
			diag_error(u->diag, it->loc, "C0207", "import is not available when checking text from memory");
		} else if (it->kind == AST_IMPORT) {
			char *target = path_join(dir, it->u.str);
			load(u, target, it->loc, me, seen);
			free(target);
		} else if (it->kind == AST_BLOCK) {
			evaluate(u, it, dir);
			XGROW(u->blocks, u->blocks_cap, u->nblocks + 1);
			u->blocks[u->nblocks++] = it;
		} else {
			diag_error(u->diag, it->loc, "C0208", "attribute '%s' is outside any block",
				   it->u.attr.name);
			diag_hint(u->diag, "attributes belong inside a block such as 'cluster NAME { ... }'");
		}
		it = next;
	}
	free(dir);
}

static void report_missing_env(struct unit *u, const char *path);

bool resolve_file(struct unit *u, const char *path)
{
	u->main_path = xstrdup(path);
	u->main_dir = dir_of(path);
	if (access(path, R_OK) != 0) {
		diag_error(u->diag, LOC_NONE, "C0201", "cannot read '%s': %s", path, strerror(errno));
		return false;
	}
	load_dotenv(u, path);
	struct seen seen = { NULL, 0, 0 };
	load(u, path, LOC_NONE, NULL, &seen);
	for (size_t i = 0; i < seen.n; i++)
		free(seen.real[i]);
	free(seen.real);
	report_missing_env(u, path);
	return true;
}

bool resolve_buffer(struct unit *u, const char *name, const char *text, size_t len)
{
	u->main_path = xstrdup(name);
	u->main_dir = xstrdup(".");
	u->no_disk = true;
	char *copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	int32_t file = diag_add_source(u->diag, name, copy, len);
	struct seen seen = { NULL, 0, 0 };
	load_source(u, file, name, NULL, &seen);
	free(seen.real);
	report_missing_env(u, name);
	return true;
}

/* All env() names with no value and no default, in one error. */
static void report_missing_env(struct unit *u, const char *path)
{
	if (u->nmissing) {
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; i < u->nmissing; i++)
			strbuf_addf(&sb, "%s%s", i ? ", " : "", u->missing_env[i]);
		diag_error(u->diag, LOC_NONE, "C0504", "%zu environment variable%s not set: %s", u->nmissing,
			   u->nmissing == 1 ? " is" : "s are", sb.buf);
		strbuf_reset(&sb);
		if (u->nenv_files)
			strbuf_addf(&sb, "set %s in %s or in the environment",
				    u->nmissing == 1 ? "it" : "them", u->env_files[u->nenv_files - 1]);
		else
			strbuf_addf(&sb, "set %s in the environment, or in a .env file beside '%s'",
				    u->nmissing == 1 ? "it" : "them", path);
		diag_hint(u->diag, "%s", sb.buf);
		strbuf_release(&sb);
	}
}

/* ---- evaluation of env(), secret(), file() and '+' ---- */

static bool valid_env_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* Replaces n's contents with a literal string, keeping its place in the list. */
static void become_string(struct unit *u, struct ast_node *n, const char *s)
{
	struct ast_node *next = n->next;
	struct loc loc = n->loc;
	memset(n, 0, sizeof(*n));
	n->kind = AST_STRING;
	n->loc = loc;
	n->next = next;
	n->u.str = arena_strdup(&u->arena, s);
}

/* A call that could not be evaluated (reported already): an empty string that
 * later rules skip. */
static void become_error(struct unit *u, struct ast_node *n)
{
	become_string(u, n, "");
	n->poisoned = true;
}

static void note_missing(struct unit *u, const char *name)
{
	for (size_t i = 0; i < u->nmissing; i++)
		if (!strcmp(u->missing_env[i], name))
			return;
	XGROW(u->missing_env, u->missing_cap, u->nmissing + 1);
	u->missing_env[u->nmissing++] = xstrdup(name);
}

static void evaluate_call(struct unit *u, struct ast_node *n, const char *dir)
{
	static const char *const fns[] = { "env", "secret", "file" };
	const char *fn = n->u.call.fn;
	struct ast_node *args = n->u.call.args;
	size_t nargs = n->u.call.nargs;
	for (struct ast_node *a = args; a; a = a->next)
		evaluate(u, a, dir);
	for (struct ast_node *a = args; a; a = a->next) {
		if (a->kind != AST_STRING) {
			diag_error(u->diag, a->loc, "C0209", "%s() takes strings, not %s", fn,
				   ast_kind_phrase(a->kind));
			become_error(u, n);
			return;
		}
	}
	if (!strcmp(fn, "env")) {
		if (nargs < 1 || nargs > 2) {
			diag_error(u->diag, n->loc, "C0505", "env() takes a name and an optional default, not %zu arguments", nargs);
			become_error(u, n);
			return;
		}
		const char *name = args->u.str;
		if (!valid_env_name(name)) {
			diag_error(u->diag, args->loc, "C0506", "'%s' is not a valid environment variable name", name);
			become_error(u, n);
			return;
		}
		const char *v = unit_getenv(u, name);
		if (!v && nargs == 2)
			v = args->next->u.str;
		if (!v) {
			diag_error(u->diag, n->loc, "C0507", "environment variable '%s' is not set and has no default", name);
			note_missing(u, name);
			become_error(u, n);
			return;
		}
		size_t bad = utf8_invalid_at(v, strlen(v));
		if (bad < strlen(v)) {
			/* The value is not shown: it may be a credential. */
			diag_error(u->diag, n->loc, "C0511", "environment variable '%s' is not valid UTF-8 "
				   "(byte %zu of its value)", name, bad + 1);
			become_error(u, n);
			return;
		}
		unsigned long cp;
		bad = utf8_bidi_at(v, strlen(v), &cp);
		if (bad < strlen(v)) {
			diag_error(u->diag, n->loc, "C0512", "environment variable '%s' holds the bidirectional "
				   "control character U+%04lX (byte %zu of its value)", name, cp, bad + 1);
			become_error(u, n);
			return;
		}
		become_string(u, n, v);
	} else if (!strcmp(fn, "secret")) {
		if (nargs != 1) {
			diag_error(u->diag, n->loc, "C0508", "secret() takes one name, not %zu arguments", nargs);
			become_error(u, n);
			return;
		}
		if (!valid_env_name(args->u.str)) {
			diag_error(u->diag, args->loc, "C0509", "'%s' is not a valid secret name", args->u.str);
			diag_hint(u->diag, "secrets are read at apply time from the environment or the .env file, by name");
		}
		const char *name = args->u.str;
		struct loc loc = n->loc;
		struct ast_node *next = n->next;
		memset(n, 0, sizeof(*n));
		n->kind = AST_SECRET;
		n->loc = loc;
		n->next = next;
		n->u.str = name;
	} else if (!strcmp(fn, "file")) {
		if (nargs != 1) {
			diag_error(u->diag, n->loc, "C0210", "file() takes one path, not %zu arguments", nargs);
			become_error(u, n);
			return;
		}
		if (u->no_disk) {
			diag_error(u->diag, n->loc, "C0211", "file() is not available when checking text from memory");
			become_error(u, n);
			return;
		}
		char *path = path_join(dir, args->u.str);
		struct strbuf sb = STRBUF_INIT;
		struct stat st;
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
			/* A directory, device or pipe: refuse rather than block or read forever. */
			diag_error(u->diag, args->loc, "C0206", "cannot read '%s': it is not a regular file", path);
			become_error(u, n);
		} else if (strbuf_read_file(&sb, path) < 0) {
			diag_error(u->diag, args->loc, "C0201", "cannot read '%s': %s", path, strerror(errno));
			become_error(u, n);
		} else if (memchr(sb.buf, '\0', sb.len)) {
			diag_error(u->diag, args->loc, "C0212", "'%s' is not a text file", path);
			become_error(u, n);
		} else {
			become_string(u, n, sb.buf);
		}
		strbuf_release(&sb);
		free(path);
	} else {
		const char *s = diag_suggest(fn, fns, 3);
		diag_error(u->diag, n->u.call.fn_loc, "C0213", "unknown function '%s'", fn);
		if (s)
			diag_hint(u->diag, "did you mean '%s'?", s);
		else
			diag_hint(u->diag, "the functions are env(), secret() and file()");
		become_error(u, n);
	}
}

static void evaluate(struct unit *u, struct ast_node *n, const char *dir)
{
	switch (n->kind) {
	case AST_BLOCK:
		for (struct ast_node *c = n->u.block.body; c; c = c->next)
			evaluate(u, c, dir);
		break;
	case AST_ATTR:
		if (n->u.attr.value)
			evaluate(u, n->u.attr.value, dir);
		break;
	case AST_LIST:
	case AST_MAP:
		for (struct ast_node *c = n->u.list.items; c; c = c->next)
			evaluate(u, c, dir);
		break;
	case AST_CALL:
		evaluate_call(u, n, dir);
		break;
	case AST_CONCAT: {
		/* '+' is left-associative and its right side is always a single
		 * value, so a long chain is deep only along its left spine: walk
		 * that without recursion and join once. A chain of a million parts
		 * must neither overflow the stack nor copy the string at each step. */
		struct ast_node **parts = NULL;
		size_t nparts = 0, cap = 0;
		struct ast_node *p = n;
		for (; p->kind == AST_CONCAT; p = p->u.concat.lhs) {
			XGROW(parts, cap, nparts + 1);
			parts[nparts++] = p->u.concat.rhs;
		}
		XGROW(parts, cap, nparts + 1);
		parts[nparts++] = p;
		bool bad = false, poisoned = false;
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = nparts; i-- > 0;) {
			struct ast_node *part = parts[i];
			evaluate(u, part, dir);
			if (part->kind == AST_SECRET) {
				diag_error(u->diag, part->loc,
					   "C0510", "secret() cannot be joined with '+': its value would land in the output");
				diag_hint(u->diag, "pass the secret on its own; clusterc hands it to the step that needs it at apply time");
				bad = true;
			} else if (part->kind != AST_STRING) {
				diag_error(u->diag, part->loc, "C0214", "'+' joins strings, but this is %s",
					   ast_kind_phrase(part->kind));
				bad = true;
			} else {
				strbuf_addstr(&sb, part->u.str);
			}
			poisoned |= part->poisoned;
		}
		free(parts);
		become_string(u, n, bad ? "" : sb.buf);
		n->poisoned = bad || poisoned;
		strbuf_release(&sb);
		break;
	}
	default:
		break;
	}
}
