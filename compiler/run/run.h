/* run: the runner behind `clusterc plan` and `clusterc apply`: what its files
 * share (struct step, struct run_plan, the options, logging). The scheduler's
 * own structures are in exec_internal.h; compiler/run/README.md says which
 * file does what.
 *
 * Everything a run allocates hangs off struct run and is freed by run_free. */
#ifndef CLUSTERC_RUN_H
#define CLUSTERC_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "base64.h"
#include "fsutil.h"
#include "impact.h"
#include "inventory.h"
#include "proc.h"
#include "ssh.h"
#include "strbuf.h"
#include "strmap.h"
#include "monotime.h"

enum step_status {
	ST_PENDING,
	ST_RUNNING,
	ST_OK,
	ST_SKIPPED,   /* done: the host remembers the same hash */
	ST_FAILED,
	ST_BLOCKED,   /* something it waits for failed */
	ST_CANCELLED, /* interrupted before it started */
	ST_UNSELECTED,
};

enum step_why {
	WHY_UNKNOWN,  /* host state not read (unreachable, locked) */
	WHY_NEW,      /* the host has no record of it */
	WHY_CHANGED,  /* the host remembers another hash */
	WHY_DONE,     /* the host remembers this hash */
	WHY_FORCED,   /* --force */
	WHY_NEEDED,   /* done, but a later step needs a value it prints */
};

struct rhost;

struct step {
	char *id, *name, *phase, *host, *on;
	char *script;   /* NULL for builtin steps */
	char *builtin;  /* NULL for script steps */
	char *args;     /* builtin argument file */
	char **files;
	size_t nfiles;
	char **after_ids;
	size_t nafter;
	size_t *after;  /* indexes into plan->steps */
	char *hash;
	char **secrets, **inputs, **outputs, **public_outputs;
	size_t nsecrets, ninputs, noutputs, npublic_outputs;
	bool reboot;
	bool destroys;  /* destroys a machine: runs only with --destroy */
	enum impact impact; /* what running it does to a live cluster, as decided (below) */
	enum impact impact_planned; /* plan.json "impact" */
	/* plan.json "impact_new": what it does when its host has no record of
	 * it (an upgrade step on a node set up at the file's version in this
	 * run has nothing to drain); IMPACT_COUNT when the step does not say. */
	enum impact impact_new;
	long timeout;   /* seconds, 0: none */
	size_t index;
	struct rhost *h;

	bool selected;
	bool held;      /* a destroying step left out for want of --destroy */
	enum step_status st;
	enum step_why why;
	char *why_detail;
	double t_start, t_end;
	int rc;
	char *msg;       /* why it failed / was blocked */
	char *log_path;  /* relative to the run dir */
	struct strbuf drift; /* check-only run: its "::clusterc::drift" lines, one a line */
	bool unchecked;  /* check-only run: a local or builtin step, not run */
};

struct run_plan {
	json_t *root;
	char *dir;       /* OUTDIR/<cluster> */
	char *cluster;
	char *cluster_host;
	char *env_file;  /* plan.json "env_file" when present */
	char *known_hosts; /* plan.json "known_hosts" when present */
	json_t *hosts;   /* borrowed from root */
	struct step *steps;
	size_t nsteps;
	struct strmap ids; /* step id -> index + 1, so loading stays linear */
};

/* Loads DIR/plan.json. Returns 0 or -1 with a message in err. */
int run_plan_load(struct run_plan *p, const char *dir, struct strbuf *err);
/* Recomputes every step's hash from plan.json and the files it names (the
 * build's lib/step_hash.c); -1 with a message naming the step on a mismatch. */
int run_plan_verify(const struct run_plan *p, struct strbuf *err);
/* Appends step i's hash as the build computes it to hash; -1 with err. */
int run_plan_step_hash(const struct run_plan *p, size_t i, struct strbuf *hash,
		       struct strbuf *err);
void run_plan_release(struct run_plan *p);
/* Frees every step (clusterc reset replaces them). */
void run_plan_free_steps(struct run_plan *p);
/* Whether a step produces output NAME; and whether plan.json marks it public
 * (a public key: shown in logs, where every other output is redacted). */
bool step_declares_output(const struct step *s, const char *name);
bool step_output_public(const struct step *s, const char *name);
ssize_t run_plan_find(const struct run_plan *p, const char *id);

/* ---- options */
struct run_opts {
	bool apply;          /* false: `plan` (read state only, no lock) */
	/* `clusterc drift`: every node and cluster script step in check-only mode
	 * (CLUSTERC_CHECK_ONLY), whatever the hosts remember; nothing recorded, no
	 * lock taken (see drift.c); apply is set too */
	bool check;
	/* `clusterc reset`: the plan's steps replaced by one node.reset per node of
	 * nodes (every node with all_nodes), run once, recorded nowhere (reset.c) */
	bool reset, all_nodes;
	char **nodes; size_t nnodes;
	bool dry_run, force, yes, break_lock, destroy;
	int jobs;
	char **only;  size_t nonly;   /* phases */
	char **limit; size_t nlimit;  /* nodes */
	const char *inventory;
	const char *env_file;
	const char *known_hosts;
	const char *artifacts;
	int keep_runs;
	int connect_timeout;    /* seconds */
	int connect_retries;
	double grace;           /* seconds between TERM and KILL */
	double lock_stale;      /* seconds after which a lock is stale */
	double reboot_timeout;  /* seconds */
	bool quiet;
};

/* ---- utilities (util.c) */
/* Reads a .env file into obj with the reader build uses (lib/dotenv.h).
 * Returns 0, or -1 with err naming every malformed line as path:line:col. */
int env_file_load(json_t *obj, const char *path, struct strbuf *err);
/* A name safe as a file name and in messages: [A-Za-z0-9._@+-], no leading '-' or '.'. */
bool safe_name(const char *s);
char *state_home(const char *cluster); /* $XDG_STATE_HOME/clusterc/<cluster> */
/* The runner holds secrets and step outputs in memory: no core dump, no
 * ptrace by other processes of this user. Called before any secret is read. */
void protect_secrets(void);

/* ---- logging and artifacts (log.c) */
struct redactor {
	char **needles;   /* values to hide, by first byte, longest first (redact.c) */
	char **labels;
	size_t *lens;
	size_t first[257]; /* needles starting with byte c: [first[c], first[c + 1]) */
	size_t n, cap;
};
void redact_add(struct redactor *r, const char *label, const char *value, size_t len);
/* Adds a secret in every form a log may show it in: plain, without its final
 * newline, bash -x quoted, JSON-escaped, base64 (whole, wrapped at 76 and 64
 * columns, inside a longer encoding), with CRLF or LF line ends, line by line. */
void redact_add_secret(struct redactor *r, const char *label, const char *value, size_t len);
/* Adds a base64 value (a step's output) and its decoded forms as a secret. */
void redact_add_value(struct redactor *r, const char *label, const char *b64);
void redact_apply(const struct redactor *r, struct strbuf *sb);
void redact_release(struct redactor *r);

/* (log.c) A step's output is held in memory until the step ends; one that prints
 * without end (a loop gone wrong) must not take the runner's memory with it.
 * Past LOG_CAP bytes the middle goes: the first and the last LOG_KEEP bytes
 * stay (how the step began, how it ended), cut at line ends, redacted
 * before the cut so that no secret is split into halves redaction misses.
 * cut->head is where the mark of the cut ends (0 before the first cut);
 * cut->dropped counts the bytes dropped. While the step runs, the log is
 * cut when it passes cap = LOG_CAP (a cut per 12 MiB, not per line); when
 * it ends, with cap = 2 * LOG_KEEP, to what it keeps. */
#define LOG_KEEP ((size_t)4 << 20)
#define LOG_CAP (4 * LOG_KEEP)
struct log_cut {
	size_t head, dropped;
};
void log_bound(const struct redactor *r, struct strbuf *sb, struct log_cut *cut, size_t cap);

struct run_log {
	char *dir;        /* artifacts/<run-id>, NULL when not logging */
	char *run_id;
	FILE *events;
	bool tty;         /* progress on a terminal */
	int drawn;        /* live lines currently on screen */
	size_t total, finished;
	char *lost;       /* the first write into the run's folder that failed, or NULL */
};
int run_log_open(struct run_log *l, const char *artifacts, int keep_runs, struct strbuf *err);
void run_log_event(struct run_log *l, const char *event, const struct step *s,
		   const char *host, const char *msg);
void run_log_close(struct run_log *l);
/* A write into the run's folder failed (a full disk, most often): the first
 * one is kept and warned about at once; the run then cannot exit 0. */
void run_log_lost(struct run_log *l, const char *path, int err);

#endif

/* ---- the scheduler (execute.c): plan (opts->apply false) or apply the
 * built cluster in dir. Returns the exit status. */
int run_execute(const struct run_opts *o, const char *dir);
/* ---- `clusterc status` (status.c): the running cluster against the model,
 * read on the first control node. Returns 0 ok, 1 something wrong, 2 unreadable. */
int run_status(const struct run_opts *o, const char *dir);
/* `clusterc apply --builtin-child`: runs one builtin step for run_execute
 * (request on stdin, answer on stdout; not for people). */
int run_builtin_child(void);
