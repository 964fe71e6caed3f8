/* pve_client: the Proxmox VE API session the proxmox.* builtins share:
 * endpoint and TLS set-up, login (ticket or API token), ticket renewal, one
 * call with its error hints, and task polling. Private to compiler/api/.
 *
 * Authentication is either a ticket (POST /access/ticket with user and
 * password; every later POST carries the CSRFPreventionToken header) or an
 * API token (Authorization: PVEAPIToken=USER@REALM!ID=SECRET, no CSRF). The
 * password, the ticket and the token secret live only in memory, are wiped on
 * release and never reach the log. */
#ifndef CLUSTERC_PVE_CLIENT_H
#define CLUSTERC_PVE_CLIENT_H

#include <jansson.h>

#include "http.h"
#include "strbuf.h"
#include "monotime.h"

struct pve {
	struct http_client http;
	struct strbuf base;      /* https://host:8006/api2/json */
	char *node;
	int token;               /* 1: API token, 0: ticket */
	char *user;              /* user@realm (ticket) or user@realm!id (token) */
	struct strbuf auth_hdr;  /* secret: the cookie or token header */
	struct strbuf csrf_hdr;  /* secret: CSRFPreventionToken header (ticket only) */
	struct strbuf ticket;    /* secret: the ticket itself, to renew it */
	double ticket_at;        /* monotonic seconds when it was issued */
	long ticket_renew_s;     /* renew a ticket this old (it lasts 2 hours) */
	long poll_ms;
	long task_timeout_s;
	struct strbuf *log;
};
void pve_init(struct pve *p, struct strbuf *log);
void pve_release(struct pve *p);
/* The end of every proxmox.* builtin: err into the log when rc is non-zero,
 * the request count, then err and p released. Returns rc. */
int pve_finish(struct pve *p, int rc, struct strbuf *err);
/* Reads endpoint, node, auth and the client options; applies the inventory
 * override. Nothing is sent. Returns 0, or -1 with err set. */
int pve_setup(struct pve *p, const json_t *args, const json_t *values,
	      const json_t *overrides, struct strbuf *err);
/* Logs in with the password (a token needs no login). */
int pve_login(struct pve *p, struct strbuf *err);
/* One API call, renewing the ticket first when it is due. form: a urlencoded
 * body for POST or NULL; parts: multipart. Returns 0 with *data set (caller
 * decrefs), or -1 with err set. */
int pve_call(struct pve *p, const char *method, const char *path, const struct strbuf *form,
	     const struct http_part *parts, size_t nparts, json_t **data, struct strbuf *err);
/* Polls a task until it stops; 0 when it ended OK or with warnings. */
int pve_task_wait(struct pve *p, const char *upid, const char *what, long limit_s,
		  struct strbuf *err);
/* A name that is safe inside a URL path and a Proxmox property string. */
int pve_plain_id(const char *s);
/* Content-addressed ISO names: Proxmox keeps no checksum of a stored file, so
 * a name that carries the content hash is how a changed file of the same size
 * is told apart. Appends NAME (ending in .iso) with "-" and the first 16 hex
 * digits of FILE's sha256 before ".iso"; 0, or 1 with err set. */
int pve_content_addressed_name(const char *file, const char *name, struct strbuf *out,
			       struct strbuf *err);
void pve_sleep_ms(long ms);

#endif
