/* cmd_graph: the graph command, a cluster's step graph (plan.json) as
 * Graphviz DOT, or as SVG/PNG through Graphviz's `dot` when it is installed.
 *
 * The picture: one box per step, labelled with its name and host; phases are
 * subgraph clusters in plan order; each host has its colour (a fixed palette
 * over the host names sorted, so the same plan always draws the same); an
 * edge runs from each dependency to the step after it. Impact classes show
 * in the shape: an API call (builtin) is a box3d, a script a rounded box, a
 * step that reboots its host has a double border, one that destroys a
 * machine is red and dashed. */
#include "build_first.h"
#include "commands.h"
#include "fsutil.h"
#include "run.h"
#include "strbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Light fills that black text reads on, distinct at a glance. */
static const char *const palette[] = {
	"#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#ffff99", "#fb9a99",
	"#8dd3c7", "#bebada", "#80b1d3", "#fccde5", "#d9d9d9", "#ccebc5",
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

static void graph_help(FILE *out)
{
	fputs("usage: clusterc graph OUTDIR/<cluster> | FILE [--format dot|svg|png] [-o FILE]\n\n"
	      "Draws the step graph of a built cluster (or of FILE, built first into a\n"
	      "temporary folder): phases as boxes around their steps, one colour per\n"
	      "host, an arrow from each dependency to the step that waits for it. API\n"
	      "calls are 3-D boxes, steps that reboot have a double border, steps that\n"
	      "destroy a machine are red and dashed.\n"
	      "  --format dot   Graphviz DOT text (the default)\n"
	      "  --format svg   SVG, png: PNG; both need Graphviz's dot on PATH\n"
	      "  -o FILE        write to FILE instead of stdout\n", out);
}

/* The inside of a DOT string: '"' and '\' escaped. */
static void dot_escape(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_addch(sb, '\\');
		strbuf_addch(sb, *s);
	}
}

static void dot_quote(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	dot_escape(sb, s);
	strbuf_addch(sb, '"');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The plan's hosts, sorted, without duplicates. */
static size_t sorted_hosts(const struct run_plan *p, const char **hosts)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nsteps; i++) {
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = !strcmp(hosts[k], p->steps[i].host);
		if (!seen)
			hosts[n++] = p->steps[i].host;
	}
	qsort(hosts, n, sizeof(*hosts), cmp_str);
	return n;
}

static const char *host_colour(const char **hosts, size_t n, const char *host)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(hosts[i], host))
			return palette[i % NPALETTE];
	return palette[0];
}

static void dot_step(struct strbuf *sb, const struct step *s, const char *colour)
{
	strbuf_addstr(sb, "    ");
	dot_quote(sb, s->id);
	/* name over host: "\n" is DOT's line break inside a label */
	strbuf_addstr(sb, " [label=\"");
	dot_escape(sb, s->name);
	strbuf_addstr(sb, "\\n");
	dot_escape(sb, s->host);
	strbuf_addf(sb, "\", fillcolor=\"%s\"", colour);
	if (s->builtin)
		strbuf_addstr(sb, ", shape=box3d, style=filled");
	if (s->reboot)
		strbuf_addstr(sb, ", peripheries=2");
	if (s->destroys)
		strbuf_addstr(sb, ", color=\"#d62728\", fontcolor=\"#d62728\", style=\"filled,dashed\"");
	strbuf_addstr(sb, "];\n");
}

/* The step graph of p as DOT text. */
static void plan_dot(const struct run_plan *p, struct strbuf *sb)
{
	const char **hosts = xcalloc(p->nsteps + 1, sizeof(*hosts));
	size_t nhosts = sorted_hosts(p, hosts);
	strbuf_addstr(sb, "digraph ");
	dot_quote(sb, p->cluster);
	strbuf_addstr(sb, " {\n  graph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, label=");
	struct strbuf title = STRBUF_INIT;
	strbuf_addf(&title, "%s: %zu steps", p->cluster, p->nsteps);
	dot_quote(sb, title.buf);
	strbuf_release(&title);
	strbuf_addstr(sb, "];\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
			  "  edge [color=\"#555555\", arrowsize=0.6];\n");
	json_t *phases = json_object_get(p->root, "phases");
	size_t pi;
	json_t *ph;
	json_array_foreach(phases, pi, ph) {
		const char *phase = json_string_value(ph);
		if (!phase)
			continue;
		struct strbuf name = STRBUF_INIT;
		strbuf_addf(&name, "cluster_%zu_%s", pi, phase);
		strbuf_addstr(sb, "  subgraph ");
		dot_quote(sb, name.buf);
		strbuf_release(&name);
		strbuf_addstr(sb, " {\n    label=");
		dot_quote(sb, phase);
		strbuf_addstr(sb, "; style=\"rounded,dashed\"; color=\"#888888\";\n");
		for (size_t i = 0; i < p->nsteps; i++)
			if (!strcmp(p->steps[i].phase, phase))
				dot_step(sb, &p->steps[i], host_colour(hosts, nhosts, p->steps[i].host));
		strbuf_addstr(sb, "  }\n");
	}
	/* The hosts' colours, as a key. */
	strbuf_addstr(sb, "  subgraph \"cluster_hosts\" {\n    label=\"hosts\"; style=rounded; color=\"#888888\";\n");
	for (size_t i = 0; i < nhosts; i++) {
		struct strbuf id = STRBUF_INIT;
		strbuf_addf(&id, "host:%s", hosts[i]);
		strbuf_addstr(sb, "    ");
		dot_quote(sb, id.buf);
		strbuf_addstr(sb, " [label=");
		dot_quote(sb, hosts[i]);
		strbuf_addf(sb, ", shape=ellipse, fillcolor=\"%s\"];\n", host_colour(hosts, nhosts, hosts[i]));
		strbuf_release(&id);
	}
	strbuf_addstr(sb, "  }\n");
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];
		for (size_t k = 0; k < s->nafter; k++) {
			strbuf_addstr(sb, "  ");
			dot_quote(sb, s->after_ids[k]);
			strbuf_addstr(sb, " -> ");
			dot_quote(sb, s->id);
			strbuf_addstr(sb, ";\n");
		}
	}
	strbuf_addstr(sb, "}\n");
	free(hosts);
}

/* Runs `dot -T<format>` on the DOT text in dot_path, writing to out (or
 * stdout). Returns the exit status. */
static int run_dot(const char *dot_path, const char *format, const char *out)
{
	struct strbuf t = STRBUF_INIT;
	strbuf_addf(&t, "-T%s", format);
	char *argv[] = { "dot", t.buf, (char *)dot_path, out ? "-o" : NULL, (char *)out, NULL };
	pid_t pid;
	int err = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
	strbuf_release(&t);
	if (err == ENOENT) {
		fprintf(stderr, "clusterc graph: --format %s needs Graphviz's 'dot', which is not on PATH\n"
				"  install it (Debian/Ubuntu: apt-get install graphviz), or use --format dot\n",
			format);
		return 2;
	}
	int status;
	if (err || waitpid(pid, &status, 0) < 0) {
		fprintf(stderr, "clusterc graph: cannot run dot: %s\n", strerror(err ? err : errno));
		return 2;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "clusterc graph: dot failed\n");
		return 1;
	}
	return 0;
}

/* Writes the graph of the cluster built in dir as format. */
struct graph_args {
	const char *format, *out;
};

static int graph_dir(const char *dir, const char *format, const char *out);

static int graph_built(const char *dir, void *arg)
{
	const struct graph_args *ga = arg;
	return graph_dir(dir, ga->format, ga->out);
}

static int graph_dir(const char *dir, const char *format, const char *out)
{
	struct run_plan p;
	struct strbuf err = STRBUF_INIT;
	if (run_plan_load(&p, dir, &err) < 0) {
		fprintf(stderr, "clusterc graph: %s\n", err.buf);
		strbuf_release(&err);
		return 2;
	}
	strbuf_release(&err);
	struct strbuf dot = STRBUF_INIT;
	plan_dot(&p, &dot);
	run_plan_release(&p);
	int rc = 0;
	if (!strcmp(format, "dot")) {
		if (!out) {
			fwrite(dot.buf, 1, dot.len, stdout);
		} else if (write_file_atomic(out, dot.buf, dot.len)) {
			fprintf(stderr, "clusterc graph: cannot write '%s': %s\n", out, strerror(errno));
			rc = 2;
		}
	} else {
		struct strbuf tmp = STRBUF_INIT;
		const char *td = getenv("TMPDIR");
		strbuf_addf(&tmp, "%s/clusterc-graph-XXXXXX", td && *td ? td : "/tmp");
		int fd = mkstemp(tmp.buf);
		if (fd < 0 || write_all(fd, dot.buf, dot.len)) {
			fprintf(stderr, "clusterc graph: cannot write a temporary file: %s\n", strerror(errno));
			rc = 2;
		} else {
			fflush(stdout);
			rc = run_dot(tmp.buf, format, out);
		}
		if (fd >= 0) {
			close(fd);
			unlink(tmp.buf);
		}
		strbuf_release(&tmp);
	}
	strbuf_release(&dot);
	return rc;
}

int cmd_graph(int argc, char **argv)
{
	const char *target = NULL, *format = "dot", *out = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_help_flag(a)) {
			graph_help(stdout);
			return 0;
		} else if (!strcmp(a, "--format") || !strcmp(a, "-o")) {
			if (++i >= argc) {
				fprintf(stderr, "clusterc graph: option '%s' needs a value\n", a);
				return 2;
			}
			*(a[1] == 'o' ? &out : &format) = argv[i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "clusterc graph: unknown option '%s'\n", a);
			graph_help(stderr);
			return 2;
		} else if (target) {
			graph_help(stderr);
			return 2;
		} else {
			target = a;
		}
	}
	if (!target) {
		graph_help(stderr);
		return 2;
	}
	if (strcmp(format, "dot") && strcmp(format, "svg") && strcmp(format, "png")) {
		fprintf(stderr, "clusterc graph: unknown format '%s' (dot, svg or png)\n", format);
		return 2;
	}
	struct graph_args ga = { format, out };
	return on_built_dir("clusterc graph", target, graph_built, &ga);
}
