/* exec_internal: what the runner's scheduler files share (compiler/run/README.md
 * says which file does what). Not for use outside run/.
 *
 * One thread, one poll() loop over every child process (after git's
 * run-command and run_processes_parallel): per-host ssh masters, the state
 * read that also takes the host's lock, the bundle shipped as one tar stream,
 * the steps themselves, and the lock release. Each host is a small state
 * machine (enum hphase, host.c); steps move PENDING -> RUNNING -> OK/FAILED,
 * or to SKIPPED/BLOCKED/CANCELLED without running (step_decide.c says which).
 *
 * Nothing is decided before every involved host's state is known (the
 * barrier): a step is skipped when its host remembers the same hash, unless a
 * later step that will run needs a value the skipped step prints, in which
 * case the producer runs again. Then, on a terminal, the plan is shown and
 * confirmed, and the steps run: a step starts when everything it waits for is
 * done and the steps before it on its host are finished, at most -j at once. */
#ifndef CLUSTERC_EXEC_INTERNAL_H
#define CLUSTERC_EXEC_INTERNAL_H

#include "run.h"
#include "step_decide.h"

enum hphase {
	H_IDLE_UNUSED,  /* no selected step on this host */
	H_NEW,
	H_DEFERRED,     /* created by a builtin step of this run: connect when needed */
	H_CONNECTING,
	H_RETRY_WAIT,
	H_PREP,
	H_READY,        /* state known, waiting for the barrier */
	H_SHIPPING,
	H_IDLE,         /* ready to start its next step */
	H_BUSY,
	H_REBOOT_DOWN,  /* reboot asked: waiting for the master to go away */
	H_RELEASING,
	H_DONE,
	H_FAILED,
};

enum job_kind { J_PREP, J_SHIP, J_STEP, J_BUILTIN, J_REBOOT, J_RELEASE, J_CANCEL };

struct job {
	enum job_kind kind;
	struct rhost *h;
	struct step *s;
	struct proc p;
	struct proc aux;     /* J_SHIP: the local tar */
	bool has_aux;
	struct strbuf out, err, aux_err;
	struct strbuf log;   /* J_STEP: what goes to the step's log */
	struct strbuf line;  /* J_STEP: partial stdout line */
	struct log_cut log_cut, err_cut; /* J_STEP: what log_bound dropped of log and err */
	bool reboot_asked;
	struct strbuf forged; /* J_STEP: outputs a script printed that it does not produce (a builtin is this binary's code) */
	double deadline, kill_at;
	bool termed, cancel_sent;
	bool take_retry;     /* J_PREP: already a takeover of a stale lock */
	bool lock;           /* J_PREP: takes the lock */
	struct job *next;
};

struct rhost {
	char *name;
	bool local;
	struct ssh_host ssh;
	size_t *steps;
	size_t nsteps, next;
	enum hphase ph;
	struct proc master;
	struct strbuf mout, merr;
	char *ctl;          /* the master's socket (a kept one: named at each connect) */
	/* Its master is kept between runs (ssh_keep.h): not through a jump
	 * host, whose errors ssh hides from a kept master (ControlPersist sends
	 * a ProxyCommand's stderr to /dev/null), so that a jump host's refused
	 * key would read as a refused connection. */
	bool kept;
	int attempts;
	double wait_until;
	double reboot_deadline;
	bool rebooting;
	bool resume;        /* after (re)connecting, go on with steps, no state read */
	json_t *state;      /* step name -> hash the host remembers */
	bool state_known;
	bool locked;
	char *lock_note;    /* plan mode: who holds the lock */
	char *fail;
	bool shipped;
	bool deferred;      /* not connected at the start (see H_DEFERRED) */
	bool late;          /* connecting after the barrier: decide its steps then */
	struct job *job;
};

struct run {
	const struct run_opts *o;
	struct run_plan plan;
	struct rhost *hosts;
	size_t nhosts;
	struct inventory inv;
	bool have_inv;
	json_t *env;      /* secrets: the env file's, and the environment's (taken out of it) */
	json_t *values;   /* step outputs: name -> base64 */
	struct redactor red;
	struct run_log log;
	char *ctl_dir;
	char *keep_dir;   /* kept masters' directory (ssh_keep.h); NULL: per-run ones in ctl_dir */
	int keep_fd;      /* > 0: keep_dir/run.<token>, flock()ed while this run lives */
	char *keep_token; /* this run's token (r->owner's), naming that file */
	char *ssh_config;
	char *machine, *owner; /* lock owner: "machine pid user run-id token" */
	int local_lock_fd;     /* > 0: this machine's lock/owner, flock()ed while held */
	char *local_dir;
	char *work_dir;  /* on each host: where the bundle ships and steps run (remote_dir,
	                  * or a check-only run's own folder under it, removed at the end) */
	json_t *local_state; /* state key -> hash, for local and builtin steps */
	struct job *jobs;
	int running;
	bool barrier;
	bool interrupted, aborted;
	/* The web UIs' LoadBalancer address, read after the steps and before
	 * the connections close (access_read_address), or why it was not. */
	char *lb_address, *lb_unread;
	double interrupt_at;
	double t_begin;     /* when the run started (now_mono) */
	double last_draw;
	bool tty;
	int drawn;
	size_t total_sel, finished;
};

/* ---- progress.c: what the operator sees */
const char *status_word(enum step_status st);
const char *why_word(enum step_why w);
/* Clears / redraws the live lines of a terminal run: one per host. */
void undraw(struct run *r);
void draw(struct run *r);
/* One line of output, above the live lines. */
__attribute__((format(printf, 2, 3)))
void say(struct run *r, const char *fmt, ...);
/* Every step state change goes through here: event, progress line. */
void set_status(struct run *r, struct step *s, enum step_status st, const char *msg);
/* Prints the decided plan; returns how many selected steps will run. */
size_t print_plan(struct run *r, FILE *out, bool verbose_done);
/* Asks on the terminal whether to apply torun steps. */
bool confirm(struct run *r, size_t torun);
/* Appends "2 reboots, 1 drain" for the steps that will run, restart and worse
 * (only reboot and worse with disruptive_only); false when there are none. */
bool impact_sum(struct run *r, struct strbuf *out, bool disruptive_only);

/* ---- access.c: where things are, from OUTDIR/<cluster>/model.json */
/* The model, or NULL when dir has none (a hand-written plan). */
json_t *model_load(const char *dir);
/* Appends "where things are" to txt and returns it as JSON; NULL without a model. */
/* The summary's "where things are", from OUTDIR/<cluster>/model.json and
 * the address access_read_address read. */
json_t *access_summary(struct run *r, struct strbuf *txt);
/* Reads the web UIs' LoadBalancer address through the first control node,
 * over the run's connections (so before run_teardown), into r->lb_address,
 * or says why not in r->lb_unread. Nothing when the cluster has no holder. */
void access_read_address(struct run *r);
/* Where the web UIs' LoadBalancer address is (the Gateway or the shared
 * Ingress Service); NULL when the cluster has neither. */
struct lb_holder {
	const char *ns, *kind, *name, *jsonpath;
	const char *what; /* for messages: "Gateway", "Service" */
	/* Where jsonpath points, in the object's JSON: status[.under].list[].key */
	const char *status_under, *status_list, *status_key;
};
const struct lb_holder *lb_holder(json_t *model);
/* The addresses on the holder object (`kubectl get -o json`), space-separated. */
void lb_addresses(const struct lb_holder *lb, json_t *obj, struct strbuf *out);

/* ---- drift.c: `clusterc drift` */
/* Leaves out of a check-only run what cannot run without changing something:
 * local and builtin steps (marked unchecked). */
void drift_select(struct run *r);
/* Prints the report per host and writes drift.json; returns the exit status
 * (0 clean, 2 drift, 1 a step or host failed). */
int drift_report(struct run *r);
/* ---- reset.c: `clusterc reset` */
/* Replaces the plan's steps by one node.reset step per node to reset. */
int reset_plan(struct run *r, struct strbuf *err);
/* What the reset destroys, said before it is confirmed. */
void reset_warning(struct run *r, FILE *out);
/* ---- summary.c */
/* Prints the closing summary and writes summary.json and summary.txt. */
void write_summary(struct run *r, int status);

/* ---- jobs.c: child processes the loop watches */
struct job *job_new(struct run *r, enum job_kind k, struct rhost *h, struct step *s);
void job_free(struct run *r, struct job *j);
/* Starts j as an ssh client on its host's master running script with args. */
int start_remote(struct run *r, struct job *j, const char *script, const char *const *args,
		 struct strbuf *err);
/* A housekeeping job (release, reboot, cancel) with a deadline of limit seconds. */
void start_simple(struct run *r, struct rhost *h, enum job_kind k, const char *script,
		  const char *const *args, double limit);

/* ---- host.c: the per-host state machine */
void fail_host(struct run *r, struct rhost *h, const char *msg);
void start_master(struct run *r, struct rhost *h);
/* The host's master has ended (a kept one: its socket is gone). */
bool master_gone(struct rhost *h);
/* Moves one host forward; returns true when something changed. */
bool advance_host(struct run *r, struct rhost *h);
/* Every involved host's state is known (or it failed, or waits to be created). */
bool barrier_ready(struct run *r);

/* ---- host_state.c: a host's records and lock, and the decisions taken from them */
/* Builtin steps run here, whatever node they name, so their record is kept
 * here too, under the step id (a builtin name repeats once per node). */
const char *state_key(const struct step *s);
bool state_here(const struct step *s);
/* Decides every selected step at the barrier (step_decide.c). */
void decide_steps(struct run *r);
void start_prep(struct run *r, struct rhost *h, const char *take, bool lock);
void prep_done(struct run *r, struct job *j);
void local_prep(struct run *r, struct rhost *h);
void start_release(struct run *r, struct rhost *h);
void release_done(struct run *r, struct job *j);

/* ---- ship.c: the bundle */
bool host_needs_ship(struct run *r, struct rhost *h);
void start_ship(struct run *r, struct rhost *h);
void ship_done(struct run *r, struct job *j);

/* ---- step_run.c: one step's process, its stdin and its result */
/* A secret from the environment, else from the env file. */
const char *lookup_secret(struct run *r, const char *name);
void start_step(struct run *r, struct rhost *h, struct step *s);
/* Takes protocol lines out of a step's stdout; flush: the last partial line too. */
void step_stdout_lines(struct run *r, struct job *j, bool flush);
void step_done(struct run *r, struct job *j);

/* ---- setup.c: struct run from plan.json, the inventory and the options */
int run_setup(struct run *r, const char *dir, struct strbuf *err);
void run_teardown(struct run *r);
void run_free(struct run *r);

#endif
