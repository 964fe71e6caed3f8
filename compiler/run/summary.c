/* summary: the closing report of an apply, on stdout and as
 * artifacts/<run>/summary.json and summary.txt. */
#include "exec_internal.h"

#include <errno.h>
#include <string.h>

void write_summary(struct run *r, int status)
{
	size_t c[ST_UNSELECTED + 1] = { 0 }, held = 0;
	json_t *steps = json_array();
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (s->held) {
			held++;
			json_array_append_new(steps, json_pack("{s:s,s:s,s:s,s:s}", "id", s->id, "host",
							       s->host, "phase", s->phase, "status", "held"));
		}
		if (!s->selected)
			continue;
		c[s->st]++;
		json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", s->id, "host", s->host, "phase",
				      s->phase, "status", status_word(s->st));
		if (s->st == ST_OK || s->st == ST_FAILED)
			json_object_set_new(o, "duration", json_real(s->t_end - s->t_start));
		if (s->msg)
			json_object_set_new(o, "message", json_string(s->msg));
		if (s->log_path && (s->st == ST_OK || s->st == ST_FAILED))
			json_object_set_new(o, "log", json_string(s->log_path));
		json_array_append_new(steps, o);
	}
	struct strbuf txt = STRBUF_INIT;
	strbuf_addf(&txt, "%s: %zu ok, %zu skipped, %zu failed, %zu blocked, %zu cancelled\n",
		    r->o->dry_run ? "dry run" : "apply", c[ST_OK], c[ST_SKIPPED], c[ST_FAILED],
		    c[ST_BLOCKED], c[ST_CANCELLED]);
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (s->selected && (s->st == ST_FAILED || s->st == ST_BLOCKED)) {
			strbuf_addf(&txt, "  %-8s %s: %s", status_word(s->st), s->id,
				    s->msg ? s->msg : "");
			if (s->log_path && s->st == ST_FAILED && r->log.dir)
				strbuf_addf(&txt, " (log: %s/%s)", r->log.dir, s->log_path);
			strbuf_addch(&txt, '\n');
		}
		/* Said at the end of every apply, so a removed node's VM is not
		 * forgotten: nothing else reminds the operator it still runs. */
		if (s->held)
			strbuf_addf(&txt, "  %-8s %s: destroys a VM; runs only with apply --destroy\n",
				    "held", s->id);
	}
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].fail)
			strbuf_addf(&txt, "  host %s: %s\n", r->hosts[i].name, r->hosts[i].fail);
	/* After a real apply only: a dry run or a plan has not made anything yet. */
	json_t *access = r->o->apply && !r->o->dry_run ? access_summary(r, &txt) : NULL;
	double elapsed = r->t_begin ? now_mono() - r->t_begin : 0;
	strbuf_addf(&txt, "time: %.1fs\n", elapsed);
	if (r->log.dir)
		strbuf_addf(&txt, "logs: %s\n", r->log.dir);
	undraw(r);
	fputs(txt.buf, stdout);
	fflush(stdout);
	if (r->log.dir) {
		json_t *sum = json_pack("{s:s,s:s,s:i,s:b,s:{s:i,s:i,s:i,s:i,s:i},s:o}", "run",
					r->log.run_id, "cluster", r->plan.cluster, "exit", status,
					"interrupted", r->interrupted, "counts", "ok", (int)c[ST_OK],
					"skipped", (int)c[ST_SKIPPED], "failed", (int)c[ST_FAILED],
					"blocked", (int)c[ST_BLOCKED], "cancelled",
					(int)c[ST_CANCELLED], "steps", steps);
		json_object_set_new(json_object_get(sum, "counts"), "held", json_integer((json_int_t)held));
		json_t *hf = json_object();
		for (size_t i = 0; i < r->nhosts; i++)
			if (r->hosts[i].fail)
				json_object_set_new(hf, r->hosts[i].name, json_string(r->hosts[i].fail));
		json_object_set_new(sum, "host_failures", hf);
		json_object_set_new(sum, "elapsed", json_real(elapsed));
		if (access)
			json_object_set_new(sum, "access", access);
		char *js = json_dumps(sum, JSON_INDENT(2) | JSON_SORT_KEYS);
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/summary.json", r->log.dir);
		if (js) {
			if (write_file_atomic(p.buf, js, strlen(js)) < 0)
				run_log_lost(&r->log, p.buf, errno);
			free(js);
		}
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/summary.txt", r->log.dir);
		if (write_file_atomic(p.buf, txt.buf, txt.len) < 0)
			run_log_lost(&r->log, p.buf, errno);
		strbuf_release(&p);
		json_decref(sum);
	} else {
		json_decref(steps);
		json_decref(access);
	}
	strbuf_release(&txt);
}
