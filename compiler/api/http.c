/* http: see http.h. */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base64.h"
#include "sha256.h"
#include "xalloc.h"

/* Bounds on what we keep from an answer, so a misbehaving server cannot make
 * the runner grow without limit. */
#define HTTP_MAX_BODY (64UL * 1024 * 1024)
#define HTTP_MAX_HEADERS (256UL * 1024)

void http_client_init(struct http_client *c)
{
	memset(c, 0, sizeof(*c));
	c->verify_tls = 1;
	c->connect_timeout_s = 10;
	c->timeout_s = 60;
	c->attempts = 4;
	c->backoff_ms = 1000;
	c->backoff_max_ms = 16000;
	strbuf_init(&c->pin_pem);
}

void http_client_release(struct http_client *c)
{
	free(c->ca_file);
	c->ca_file = NULL;
	strbuf_release(&c->pin_pem);
}

void http_response_init(struct http_response *r)
{
	r->status = 0;
	strbuf_init(&r->reason);
	strbuf_init(&r->headers);
	strbuf_init(&r->body);
}

void http_response_release(struct http_response *r)
{
	strbuf_release(&r->reason);
	strbuf_release(&r->headers);
	strbuf_release(&r->body);
	r->status = 0;
}

static void response_reset(struct http_response *r)
{
	r->status = 0;
	strbuf_reset(&r->reason);
	strbuf_reset(&r->headers);
	strbuf_reset(&r->body);
}

void http_urlencode(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			strbuf_addch(sb, *p);
		} else {
			strbuf_addch(sb, '%');
			strbuf_addch(sb, hex[*p >> 4]);
			strbuf_addch(sb, hex[*p & 15]);
		}
	}
}

void http_form_add(struct strbuf *form, const char *key, const char *value)
{
	if (form->len)
		strbuf_addch(form, '&');
	http_urlencode(form, key);
	strbuf_addch(form, '=');
	http_urlencode(form, value);
}

int http_header(const struct http_response *r, const char *name, struct strbuf *out)
{
	size_t nlen = strlen(name);
	const char *p = r->headers.buf;
	while (*p) {
		const char *eol = strchr(p, '\n');
		if (!eol)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' && !strncasecmp(p, name, nlen)) {
			const char *v = p + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *e = eol;
			while (e > v && (e[-1] == '\r' || e[-1] == ' '))
				e--;
			strbuf_reset(out);
			strbuf_add(out, v, (size_t)(e - v));
			return 1;
		}
		p = *eol ? eol + 1 : eol;
	}
	return 0;
}

/* Appends s with control characters dropped and at most max bytes, so that
 * an error line stays one line. */
static void add_clean(struct strbuf *out, const char *s, size_t max)
{
	size_t n = 0;
	int space = 0;
	for (; *s && n < max; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f) {
			space = 1;
			continue;
		}
		if (space && out->len && out->buf[out->len - 1] != ' ') {
			strbuf_addch(out, ' ');
			n++;
		}
		space = 0;
		strbuf_addch(out, (char)ch);
		n++;
	}
	if (*s)
		strbuf_addstr(out, "...");
}

static void add_json_message(struct strbuf *out, const json_t *m)
{
	if (json_is_string(m)) {
		add_clean(out, json_string_value(m), 300);
	} else if (json_is_array(m)) {
		size_t i;
		json_t *v;
		json_array_foreach(m, i, v) {
			if (i)
				strbuf_addstr(out, "; ");
			add_json_message(out, v);
		}
	} else if (json_is_object(m)) {
		/* Proxmox {"errors": {"param": "msg"}}, GitLab {"message": {"key": ["msg"]}} */
		const char *k;
		json_t *v;
		int first = 1;
		json_object_foreach((json_t *)m, k, v) {
			if (!first)
				strbuf_addstr(out, "; ");
			first = 0;
			add_clean(out, k, 80);
			strbuf_addstr(out, ": ");
			add_json_message(out, v);
		}
	}
}

void http_error_text(const struct http_response *r, struct strbuf *out)
{
	size_t before = out->len;
	json_t *root = NULL;
	if (r->body.len && r->body.len < 1024 * 1024)
		root = json_loadb(r->body.buf, r->body.len, 0, NULL);
	if (json_is_object(root)) {
		static const char *const keys[] = { "errors", "message", "error", "error_description" };
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_t *m = json_object_get(root, keys[i]);
			if (m && !json_is_null(m)) {
				add_json_message(out, m);
				if (out->len > before)
					break;
			}
		}
	}
	json_decref(root);
	if (out->len > before)
		return;
	if (r->reason.len) {
		add_clean(out, r->reason.buf, 300);
		return;
	}
	if (r->body.len)
		add_clean(out, r->body.buf, 200);
}

struct sink {
	struct http_response *resp;
	int overflow;
};

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	if (s->resp->body.len + n > HTTP_MAX_BODY) {
		s->overflow = 1;
		return 0;
	}
	strbuf_add(&s->resp->body, ptr, n);
	return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	struct http_response *r = s->resp;
	if (n >= 5 && !strncmp(ptr, "HTTP/", 5)) {
		/* A new status line (after 100 Continue, say) starts a new header set. */
		strbuf_reset(&r->headers);
		strbuf_reset(&r->reason);
		const char *p = memchr(ptr, ' ', n);
		if (p) {
			p++;
			const char *end = ptr + n;
			while (p < end && isdigit((unsigned char)*p))
				p++;
			while (p < end && *p == ' ')
				p++;
			const char *e = end;
			while (e > p && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
				e--;
			strbuf_add(&r->reason, p, (size_t)(e - p));
		}
		return n;
	}
	if (r->headers.len + n > HTTP_MAX_HEADERS)
		return n;
	const char *e = ptr + n;
	while (e > ptr && (e[-1] == '\r' || e[-1] == '\n'))
		e--;
	if (e > ptr) {
		strbuf_add(&r->headers, ptr, (size_t)(e - ptr));
		strbuf_addch(&r->headers, '\n');
	}
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int retryable_status(long status)
{
	return status == 429 || (status >= 500 && status != 501 && status <= 599);
}

/* Explains a transport failure in words an operator can act on. */
static void describe_curl(struct strbuf *err, CURLcode rc, const char *detail,
			  const struct http_client *c)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		strbuf_addf(err, "TLS certificate not trusted (%s); set ca_file to the server's CA "
			    "(Proxmox: /etc/pve/pve-root-ca.pem) or, knowingly, verify_tls = false",
			    *detail ? detail : curl_easy_strerror(rc));
		return;
	case CURLE_OPERATION_TIMEDOUT:
		strbuf_addf(err, "timed out (%s; connect limit %lds)",
			    *detail ? detail : curl_easy_strerror(rc), c->connect_timeout_s);
		return;
	default:
		strbuf_addstr(err, *detail ? detail : curl_easy_strerror(rc));
	}
}

static curl_mime *build_mime(CURL *h, const struct http_request *req, struct strbuf *err)
{
	curl_mime *mime = curl_mime_init(h);
	for (size_t i = 0; i < req->nparts; i++) {
		const struct http_part *p = &req->parts[i];
		curl_mimepart *part = curl_mime_addpart(mime);
		curl_mime_name(part, p->name);
		if (p->value) {
			curl_mime_data(part, p->value, CURL_ZERO_TERMINATED);
			continue;
		}
		/* curl_mime_filedata stats the file so the total size is known and
		 * libcurl sends Content-Length instead of chunked encoding, which
		 * Proxmox's upload parser requires. */
		if (curl_mime_filedata(part, p->path) != CURLE_OK) {
			strbuf_addf(err, "cannot read %s", p->path);
			curl_mime_free(mime);
			return NULL;
		}
		curl_mime_filename(part, p->filename);
		curl_mime_type(part, "application/octet-stream");
	}
	return mime;
}

static int curl_initialised;

int http_global_init(void)
{
	if (!curl_initialised) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -1;
		curl_initialised = 1;
	}
	return 0;
}

void http_global_cleanup(void)
{
	if (curl_initialised) {
		curl_global_cleanup();
		curl_initialised = 0;
	}
}

/* The DER bytes of a PEM certificate (the base64 between its BEGIN and END
 * lines). Returns 0, or -1 when pem is not one. */
static int pem_to_der(const char *pem, struct strbuf *der)
{
	const char *b = strstr(pem, "-----BEGIN CERTIFICATE-----");
	const char *e = b ? strstr(b, "-----END CERTIFICATE-----") : NULL;
	if (!e)
		return -1;
	b += strlen("-----BEGIN CERTIFICATE-----");
	struct strbuf b64 = STRBUF_INIT;
	for (; b < e; b++)
		if (*b != '\n' && *b != '\r' && *b != ' ')
			strbuf_addch(&b64, *b);
	int rc = base64_valid(b64.buf) ? base64_decode(der, b64.buf, b64.len) : -1;
	strbuf_release(&b64);
	return rc;
}

/* Fetches the server's certificate with a TLS handshake and nothing else
 * (CONNECT_ONLY: no request, so no credential, goes to an unchecked server)
 * and keeps it in c->pin_pem if its sha256 is the pinned one. */
static CURLcode fetch_pinned_cert(struct http_client *c, const char *url, struct strbuf *detail)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = curl_easy_init();
	if (!h) {
		strbuf_addstr(detail, "cannot initialise libcurl");
		return CURLE_FAILED_INIT;
	}
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	/* Unverified on purpose: this handshake only reads the certificate,
	 * which is then judged by its fingerprint alone. */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
	c->requests++;
	CURLcode rc = curl_easy_perform(h);
	struct curl_certinfo *ci = NULL;
	const char *pem = NULL;
	if (rc == CURLE_OK && curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci &&
	    ci->num_of_certs > 0)
		for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next)
			if (!strncmp(l->data, "Cert:", 5))
				pem = l->data + 5;
	struct strbuf der = STRBUF_INIT;
	if (rc != CURLE_OK) {
		describe_curl(detail, rc, errbuf, c);
	} else if (!pem || pem_to_der(pem, &der)) {
		strbuf_addstr(detail, "the server sent no readable TLS certificate");
		rc = CURLE_PEER_FAILED_VERIFICATION;
	} else {
		unsigned char got[SHA256_DIGEST_LEN];
		struct sha256 sh;
		sha256_init(&sh);
		sha256_update(&sh, der.buf, der.len);
		sha256_final(&sh, got);
		if (memcmp(got, c->pin, sizeof(got))) {
			strbuf_addstr(detail, "TLS certificate fingerprint is ");
			sha256_format_fingerprint(detail, got);
			strbuf_addstr(detail, ", not the pinned ");
			sha256_format_fingerprint(detail, c->pin);
			strbuf_addstr(detail, "; if this host's certificate was renewed, compare with "
				      "`pvenode cert info` on the host itself and update fingerprint");
			rc = CURLE_PEER_FAILED_VERIFICATION;
		} else {
			strbuf_reset(&c->pin_pem);
			strbuf_addstr(&c->pin_pem, pem);
		}
	}
	strbuf_release(&der);
	curl_easy_cleanup(h);
	return rc;
}

/* One attempt. Returns the CURLcode; fills resp. */
static CURLcode attempt(struct http_client *c, const struct http_request *req,
			struct http_response *resp, struct strbuf *detail)
{
	char errbuf[CURL_ERROR_SIZE];
	struct sink sink = { .resp = resp, .overflow = 0 };
	struct curl_slist *hdrs = NULL;
	curl_mime *mime = NULL;
	CURLcode rc;
	CURL *h = curl_easy_init();
	if (!h) {
		strbuf_addstr(detail, "cannot initialise libcurl");
		return CURLE_FAILED_INIT;
	}
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
	if (req->timeout_s < 0) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT, req->timeout_s ? req->timeout_s : c->timeout_s);
	}
	if (c->pinned && !strncmp(req->url, "https:", 6)) {
		if (!c->pin_pem.len && (rc = fetch_pinned_cert(c, req->url, detail)) != CURLE_OK) {
			curl_easy_cleanup(h);
			return rc;
		}
		/* Exactly the pinned certificate is trusted: no system store (a
		 * publicly trusted certificate for any name would otherwise pass,
		 * as the host name is not checked), and no host-name check, since
		 * the fingerprint, not the name, says who the server is. OpenSSL
		 * accepts a trusted leaf as the whole chain (curl sets
		 * X509_V_FLAG_PARTIAL_CHAIN). */
		struct curl_blob blob = { c->pin_pem.buf, c->pin_pem.len, CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
		if (c->ca_file)
			curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	}
	curl_easy_setopt(h, CURLOPT_USERAGENT, "clusterc");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);

	for (const char *const *p = req->headers; p && *p; p++)
		hdrs = curl_slist_append(hdrs, *p);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	/* No "Expect: 100-continue" round trip: not every API server answers it. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (req->parts) {
		mime = build_mime(h, req, detail);
		if (!mime) {
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(h);
			return CURLE_READ_ERROR;
		}
		curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	} else if (req->body) {
		if (req->content_type) {
			struct strbuf ct = STRBUF_INIT;
			strbuf_addf(&ct, "Content-Type: %s", req->content_type);
			hdrs = curl_slist_append(hdrs, ct.buf);
			strbuf_release(&ct);
		}
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	if (strcmp(req->method, "GET") && strcmp(req->method, "POST"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	else if (!strcmp(req->method, "POST") && !req->body && !req->parts) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	c->requests++;
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	} else if (sink.overflow) {
		strbuf_addf(detail, "answer larger than %lu bytes", HTTP_MAX_BODY);
	} else {
		resp->status = 0;
		describe_curl(detail, rc, errbuf, c);
	}
	curl_mime_free(mime);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}

int http_do(struct http_client *c, const struct http_request *req,
	    struct http_response *resp, struct strbuf *err)
{
	int tries = c->attempts < 1 ? 1 : c->attempts;
	long pause = c->backoff_ms;
	struct strbuf detail = STRBUF_INIT, ra = STRBUF_INIT;
	int n;

	if (http_global_init()) {
		strbuf_addf(err, "%s %s: cannot initialise libcurl", req->method, req->url);
		return -1;
	}
	for (n = 1;; n++) {
		CURLcode rc;
		int again;
		response_reset(resp);
		strbuf_reset(&detail);
		rc = attempt(c, req, resp, &detail);
		if (rc == CURLE_OK && resp->status >= 200 && resp->status < 300) {
			strbuf_release(&detail);
			strbuf_release(&ra);
			return 0;
		}
		if (rc == CURLE_OK) {
			again = retryable_status(resp->status) && !(req->final_500 && resp->status == 500);
			strbuf_addf(&detail, "HTTP %ld", resp->status);
			if (resp->reason.len) {
				strbuf_addch(&detail, ' ');
				add_clean(&detail, resp->reason.buf, 200);
			}
			struct strbuf txt = STRBUF_INIT;
			http_error_text(resp, &txt);
			/* GitLab repeats the status in its message ("401 Unauthorized"). */
			int same = !strcmp(txt.buf, resp->reason.buf) ||
				   (resp->reason.len && strstr(txt.buf, resp->reason.buf) &&
				    txt.len <= resp->reason.len + 4);
			if (txt.len && !same) {
				strbuf_addstr(&detail, ": ");
				strbuf_addstr(&detail, txt.buf);
			}
			strbuf_release(&txt);
			if (resp->status >= 300 && resp->status < 400) {
				struct strbuf loc = STRBUF_INIT;
				strbuf_addstr(&detail, " (redirects are not followed");
				if (http_header(resp, "Location", &loc)) {
					strbuf_addstr(&detail, "; it points to ");
					add_clean(&detail, loc.buf, 200);
				}
				strbuf_addstr(&detail, "; fix the endpoint URL)");
				strbuf_release(&loc);
			}
		} else {
			again = retryable_curl(rc);
		}
		if (!again || n >= tries)
			break;
		long wait = pause > c->backoff_max_ms ? c->backoff_max_ms : pause;
		if (http_header(resp, "Retry-After", &ra)) {
			/* Seconds only; an HTTP date keeps our own pause. Capped, so a
			 * server cannot park the run. */
			char *end;
			long s = strtol(ra.buf, &end, 10);
			if (end != ra.buf && !*end && s >= 0)
				wait = s > c->backoff_max_ms / 1000 ? c->backoff_max_ms : s * 1000;
		}
		if (c->log)
			strbuf_addf(c->log, "  %s %s: %s; retrying in %ld ms (attempt %d of %d)\n",
				    req->method, req->url, detail.buf, wait, n + 1, tries);
		sleep_ms(wait);
		pause = pause * 2 > c->backoff_max_ms ? c->backoff_max_ms : pause * 2;
	}
	strbuf_addf(err, "%s %s: %s", req->method, req->url, detail.buf);
	if (n > 1)
		strbuf_addf(err, " (after %d attempts)", n);
	strbuf_release(&detail);
	strbuf_release(&ra);
	return -1;
}

static int positive_int(const json_t *obj, const char *key, long max, long *out, struct strbuf *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max) {
		strbuf_addf(err, "client.%s must be an integer from 1 to %ld", key, max);
		return -1;
	}
	*out = (long)json_integer_value(v);
	return 0;
}

int http_client_configure(struct http_client *c, const json_t *args, unsigned what,
			  struct strbuf *err)
{
	json_t *v = (what & HTTP_CFG_TLS) ? json_object_get(args, "verify_tls") : NULL;
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			strbuf_addstr(err, "verify_tls must be true or false");
			return -1;
		}
		c->verify_tls = json_is_true(v);
	}
	v = (what & HTTP_CFG_TLS) ? json_object_get(args, "ca_file") : NULL;
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !*json_string_value(v)) {
			strbuf_addstr(err, "ca_file must be a path");
			return -1;
		}
		struct stat st;
		errno = 0;
		if (stat(json_string_value(v), &st) || !S_ISREG(st.st_mode)) {
			strbuf_addf(err, "ca_file %s: %s", json_string_value(v),
				    errno ? strerror(errno) : "not a regular file");
			return -1;
		}
		free(c->ca_file);
		c->ca_file = xstrdup(json_string_value(v));
	}
	v = (what & HTTP_CFG_TLS) ? json_object_get(args, "fingerprint") : NULL;
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || sha256_parse_fingerprint(json_string_value(v), c->pin)) {
			strbuf_addstr(err, "fingerprint must be a certificate's sha256 fingerprint, "
				      "\"sha256:AB:CD:...\" as `pvenode cert info` prints it");
			return -1;
		}
		if (c->ca_file || !c->verify_tls) {
			strbuf_addstr(err, "fingerprint cannot be combined with ca_file or verify_tls = false: "
				      "it says exactly which certificate to trust");
			return -1;
		}
		c->pinned = 1;
		strbuf_reset(&c->pin_pem);
	}
	v = (what & HTTP_CFG_CLIENT) ? json_object_get(args, "client") : NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		strbuf_addstr(err, "client must be an object");
		return -1;
	}
	long attempts = c->attempts;
	if (positive_int(v, "timeout_s", 86400, &c->timeout_s, err) ||
	    positive_int(v, "connect_timeout_s", 600, &c->connect_timeout_s, err) ||
	    positive_int(v, "attempts", 20, &attempts, err) ||
	    positive_int(v, "backoff_ms", 600000, &c->backoff_ms, err) ||
	    positive_int(v, "backoff_max_ms", 600000, &c->backoff_max_ms, err))
		return -1;
	c->attempts = (int)attempts;
	return 0;
}

int http_url_check(const char *url, struct strbuf *err)
{
	const char *host;
	if (!strncmp(url, "https://", 8)) {
		host = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		host = url + 7;
	} else {
		strbuf_addf(err, "endpoint '%s' must start with https://", url);
		return -1;
	}
	size_t hl = strcspn(host, "/?#");
	if (!hl || memchr(host, '@', hl) || strpbrk(url, " \t\r\n")) {
		strbuf_addf(err, "endpoint '%s' is not a plain https://HOST[:PORT] URL", url);
		return -1;
	}
	if (url[4] == 's')
		return 0;
	/* http: loopback only (lab mocks). */
	struct strbuf h = STRBUF_INIT;
	strbuf_add(&h, host, hl);
	char *colon = h.buf[0] == '[' ? strchr(h.buf, ']') : strrchr(h.buf, ':');
	if (h.buf[0] == '[' && colon)
		strbuf_setlen(&h, (size_t)(colon - h.buf) + 1);
	else if (colon)
		strbuf_setlen(&h, (size_t)(colon - h.buf));
	int ok = !strcmp(h.buf, "localhost") || !strcmp(h.buf, "[::1]") ||
		 (!strncmp(h.buf, "127.", 4) && strspn(h.buf, "0123456789.") == h.len);
	if (!ok)
		strbuf_addf(err, "refusing plain http to %s: credentials would cross the network "
			    "unencrypted; use https:// (plain http is allowed for loopback lab mocks only)",
			    h.buf);
	strbuf_release(&h);
	return ok ? 0 : -1;
}
