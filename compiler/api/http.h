/* http: the one libcurl wrapper behind the API clients (proxmox.c, gitlab.c).
 *
 * One request at a time, a fresh easy handle per attempt. TLS verification is
 * on unless a caller sets verify_tls = 0 (an explicit opt-in the args file
 * must spell out); ca_file names an extra trust anchor such as Proxmox's
 * /etc/pve/pve-root-ca.pem. Only http and https are allowed, redirects are
 * never followed (they would carry auth headers to another host), and nothing
 * a request sends (headers, bodies) is ever copied into a log or an error
 * message: those name the method, the URL, the status and the server's
 * error text only, so callers must keep secrets out of URLs.
 *
 * With a fingerprint pin, a server presenting any other certificate is
 * refused before a request (and its credentials) is sent.
 *
 * Retries: connection failures (refused, reset, timed out, empty reply), HTTP
 * 5xx and 429 are retried up to `attempts` tries in all, sleeping backoff_ms,
 * then twice that, capped at backoff_max_ms (Retry-After is honoured within
 * the cap). Anything else is final at once. */
#ifndef CLUSTERC_HTTP_H
#define CLUSTERC_HTTP_H

#include <stddef.h>

#include <jansson.h>

#include "strbuf.h"

struct http_client {
	int verify_tls;          /* 1 unless explicitly turned off */
	char *ca_file;           /* owned; NULL: the system store only */
	/* A pinned server certificate (the sha256 of its DER bytes, as
	 * `pvenode cert info` prints it): when set, the server's certificate
	 * is fetched once without sending anything, compared, and every
	 * request then trusts exactly that certificate and nothing else. */
	int pinned;
	unsigned char pin[32];
	struct strbuf pin_pem;   /* the certificate that matched, once fetched */
	long connect_timeout_s;  /* default 10 */
	long timeout_s;          /* whole-request limit; default 60 */
	int attempts;            /* tries in all, >= 1; default 4 */
	long backoff_ms;         /* first pause; default 1000 */
	long backoff_max_ms;     /* cap; default 16000 */
	struct strbuf *log;      /* retry notices go here; may be NULL */
	unsigned long requests;  /* HTTP attempts made, for logs and tests */
};

/* One multipart/form-data part: a field (value) or a file (path + filename).
 * Parts are sent in array order. */
struct http_part {
	const char *name;
	const char *value;     /* field value, or NULL for a file part */
	const char *path;      /* local file for a file part */
	const char *filename;  /* the filename="..." attribute of a file part */
};

struct http_request {
	const char *method;             /* "GET", "POST", ... */
	const char *url;                /* must not contain secrets */
	const char *const *headers;     /* "Name: value", NULL-terminated; may be NULL */
	const char *content_type;       /* for body */
	const char *body;               /* NULL: no body */
	size_t body_len;
	const struct http_part *parts;  /* multipart instead of body */
	size_t nparts;
	/* 0: the client's timeout_s. < 0: no total limit, but abort when fewer
	 * than 1 KiB/s move for 120 s (long uploads). */
	long timeout_s;
	/* 1: HTTP 500 is final, not retried. Proxmox answers refused writes
	 * ("VM 101 already exists", "storage does not exist") with 500 and the
	 * reason; repeating them only delays the error. 502/503/504 and 429 are
	 * still retried. */
	int final_500;
};

struct http_response {
	long status;             /* 0 when no response was received */
	struct strbuf reason;    /* the status line's reason phrase */
	struct strbuf headers;   /* "name: value\n" lines of the final response */
	struct strbuf body;
};

/* libcurl's global state. http_do initialises it on first use, which is not
 * thread-safe: a program that may call builtins from several threads calls
 * http_global_init() first. http_global_cleanup() at exit frees it (valgrind
 * otherwise reports TLS library memory as still reachable). */
int http_global_init(void);
void http_global_cleanup(void);

void http_client_init(struct http_client *c);
void http_client_release(struct http_client *c);
void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);

/* Performs req with retries. Returns 0 on a 2xx answer. Otherwise returns -1
 * with err set to one line such as
 *   POST https://pve:8006/api2/json/nodes/pve/qemu: HTTP 500 Internal Server
 *   Error: unable to create VM 101 (after 4 attempts)
 * and, when an answer arrived, resp filled so callers can look at the status
 * (e.g. GitLab's 400 "has already been taken"). */
int http_do(struct http_client *c, const struct http_request *req,
	    struct http_response *resp, struct strbuf *err);

/* Copies the value of header name (case-insensitive) into out; returns 1 when
 * present. */
int http_header(const struct http_response *r, const char *name, struct strbuf *out);

/* The server's error text: Proxmox "errors"/"message", GitLab "message"/
 * "error", else the reason phrase, else the start of the body. */
void http_error_text(const struct http_response *r, struct strbuf *out);

/* Sets TLS and tuning fields from an args file (the keys shared by every
 * builtin): with HTTP_CFG_TLS "verify_tls" (boolean, default true),
 * "ca_file" (path) and "fingerprint" (see sha256_parse_fingerprint; not
 * with ca_file or verify_tls false); with HTTP_CFG_CLIENT the optional "client" object
 * {"timeout_s", "connect_timeout_s", "attempts", "backoff_ms",
 * "backoff_max_ms"} (positive integers). Returns 0, or -1 with err set. */
#define HTTP_CFG_TLS 1u
#define HTTP_CFG_CLIENT 2u
int http_client_configure(struct http_client *c, const json_t *args, unsigned what,
			  struct strbuf *err);

/* Accepts an API base URL: https://..., or http:// to a loopback address only
 * (127.0.0.0/8, localhost, [::1]) so that no credential crosses a network in
 * clear text. Returns 0, or -1 with err set. */
int http_url_check(const char *url, struct strbuf *err);

/* Percent-encodes s (everything but A-Z a-z 0-9 - . _ ~), for path segments,
 * query values and form bodies. */
void http_urlencode(struct strbuf *sb, const char *s);
/* Appends "key=value" (both encoded) to a form body, with '&' when needed. */
void http_form_add(struct strbuf *form, const char *key, const char *value);

#endif
