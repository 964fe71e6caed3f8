/* run_log: artifacts/<run-id>/ (one log per step and host, events.jsonl, the
 * summary), artifacts/latest and pruning of old runs. What is written is
 * redacted first (redact.c); log_bound keeps a step's output in memory bounded. */
#include "run.h"
#include "sort.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A run id: 20261125T201533Z-12345 (sorts by time). */
static bool is_run_id(const char *s)
{
	return strlen(s) > 17 && s[8] == 'T' && s[15] == 'Z' && s[16] == '-';
}

static void prune(const char *artifacts, int keep)
{
	DIR *d = opendir(artifacts);
	if (!d)
		return;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_run_id(e->d_name))
			continue;
		XGROW(names, cap, n + 1);
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(char *), cmp_str_ptr);
	for (size_t i = 0; i < n; i++) {
		if (keep > 0 && n - i > (size_t)keep) {
			struct strbuf p = STRBUF_INIT;
			strbuf_addf(&p, "%s/%s", artifacts, names[i]);
			rm_rf(p.buf);
			strbuf_release(&p);
		}
		free(names[i]);
	}
	free(names);
}

int run_log_open(struct run_log *l, const char *artifacts, int keep_runs, struct strbuf *err)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	struct strbuf id = STRBUF_INIT;
	strbuf_addf(&id, "%04d%02d%02dT%02d%02d%02dZ-%ld", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid());
	l->run_id = strbuf_detach(&id, NULL);
	struct strbuf dir = STRBUF_INIT;
	strbuf_addf(&dir, "%s/%s", artifacts, l->run_id);
	if (mkdir_p(dir.buf, 0755) < 0) {
		strbuf_addf(err, "cannot create %s: %s", dir.buf, strerror(errno));
		strbuf_release(&dir);
		return -1;
	}
	l->dir = strbuf_detach(&dir, NULL);
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/events.jsonl", l->dir);
	l->events = fopen(p.buf, "we");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/latest.tmp", artifacts);
	unlink(p.buf);
	if (symlink(l->run_id, p.buf) == 0) {
		struct strbuf q = STRBUF_INIT;
		strbuf_addf(&q, "%s/latest", artifacts);
		if (rename(p.buf, q.buf) < 0)
			unlink(p.buf);
		strbuf_release(&q);
	}
	strbuf_release(&p);
	prune(artifacts, keep_runs);
	return 0;
}

void run_log_event(struct run_log *l, const char *event, const struct step *s,
		   const char *host, const char *msg)
{
	if (!l->events)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_t *o = json_object();
	json_object_set_new(o, "time", json_real((double)ts.tv_sec + (double)ts.tv_nsec / 1e9));
	json_object_set_new(o, "run", json_string(l->run_id));
	json_object_set_new(o, "event", json_string(event));
	if (host)
		json_object_set_new(o, "host", json_string(host));
	if (s) {
		json_object_set_new(o, "step", json_string(s->id));
		json_object_set_new(o, "phase", json_string(s->phase));
		if (s->st == ST_OK || s->st == ST_FAILED) {
			json_object_set_new(o, "rc", json_integer(s->rc));
			json_object_set_new(o, "duration", json_real(s->t_end - s->t_start));
		}
		if (s->log_path)
			json_object_set_new(o, "log", json_string(s->log_path));
	}
	if (msg)
		json_object_set_new(o, "message", json_string(msg));
	char *line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (line) {
		errno = 0;
		if (fputs(line, l->events) < 0 || fputc('\n', l->events) == EOF || fflush(l->events) == EOF) {
			struct strbuf p = STRBUF_INIT;
			strbuf_addf(&p, "%s/events.jsonl", l->dir);
			run_log_lost(l, p.buf, errno);
			strbuf_release(&p);
			/* The stream's buffer would hold the rest; stop writing it. */
			fclose(l->events);
			l->events = NULL;
		}
		free(line);
	}
	json_decref(o);
}

void run_log_lost(struct run_log *l, const char *path, int err)
{
	if (l->lost)
		return;
	struct strbuf m = STRBUF_INIT;
	strbuf_addf(&m, "cannot write %s: %s", path, err ? strerror(err) : "write error");
	l->lost = strbuf_detach(&m, NULL);
	fprintf(stderr, "clusterc: warning: %s; this run's logs are incomplete\n", l->lost);
}

void run_log_close(struct run_log *l)
{
	if (l->events && fclose(l->events) == EOF) {
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/events.jsonl", l->dir);
		run_log_lost(l, p.buf, errno);
		strbuf_release(&p);
	}
	free(l->lost);
	free(l->dir);
	free(l->run_id);
	memset(l, 0, sizeof(*l));
}

static const char log_cut_mark[] = "[clusterc: output dropped here: the step printed more than this log keeps]\n";

void log_bound(const struct redactor *r, struct strbuf *sb, struct log_cut *cut, size_t cap)
{
	if (sb->len <= cap)
		return;
	redact_apply(r, sb);
	/* Only when there is a middle to drop: the mark's room included. */
	if (sb->len <= cap || sb->len <= (cut->head ? cut->head : LOG_KEEP + sizeof(log_cut_mark)) + LOG_KEEP)
		return;
	size_t mark = sizeof(log_cut_mark) - 1;
	if (!cut->head) {
		/* The head ends at the last line end within LOG_KEEP. */
		size_t h = LOG_KEEP;
		while (h > LOG_KEEP / 2 && sb->buf[h - 1] != '\n')
			h--;
		if (sb->buf[h - 1] != '\n')
			h = LOG_KEEP;
		/* Room for the mark: the bytes after the head are dropped anyway. */
		memcpy(sb->buf + h, log_cut_mark, mark);
		cut->head = h + mark;
		cut->dropped += mark;
	}
	/* The tail starts after the first line end within its last LOG_KEEP. */
	size_t t = sb->len - LOG_KEEP, limit = t + LOG_KEEP / 2;
	while (t < limit && sb->buf[t - 1] != '\n')
		t++;
	if (sb->buf[t - 1] != '\n')
		t = sb->len - LOG_KEEP;
	cut->dropped += t - cut->head;
	memmove(sb->buf + cut->head, sb->buf + t, sb->len - t);
	strbuf_setlen(sb, cut->head + (sb->len - t));
}
