/* Unit tests for the pure parts of http.c, proxmox.c and gitlab.c: URL and
 * form encoding, header lookup, error-text extraction, endpoint checks, UPID
 * and task-status parsing, SSH public key comparison. No network. */
#include "gitlab.h"
#include "http.h"
#include "proxmox.h"
#include "strbuf.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

static void test_encode(void)
{
	struct strbuf sb = STRBUF_INIT;
	http_urlencode(&sb, "UPID:pve:0000A1B2:00C0FFEE:6745A1B2:qmcreate:101:root@pam!tok:");
	CHECK(!strcmp(sb.buf, "UPID%3Apve%3A0000A1B2%3A00C0FFEE%3A6745A1B2%3Aqmcreate%3A101%3Aroot%40pam%21tok%3A"),
	      "upid: %s", sb.buf);
	strbuf_reset(&sb);
	http_urlencode(&sb, "group/sub/proj");
	CHECK(!strcmp(sb.buf, "group%2Fsub%2Fproj"), "path: %s", sb.buf);
	strbuf_reset(&sb);
	http_form_add(&sb, "boot", "order=scsi0;ide2");
	http_form_add(&sb, "password", "a b&c=d%\xc3\xa9");
	CHECK(!strcmp(sb.buf, "boot=order%3Dscsi0%3Bide2&password=a%20b%26c%3Dd%25%C3%A9"), "form: %s", sb.buf);
	strbuf_release(&sb);
}

static void test_headers_and_errors(void)
{
	struct http_response r;
	struct strbuf v = STRBUF_INIT;
	http_response_init(&r);
	strbuf_addstr(&r.headers, "Content-Type: application/json\nx-next-page:  3 \r\nX-Total: 9\n");
	CHECK(http_header(&r, "X-Next-Page", &v) && !strcmp(v.buf, "3"), "next page [%s]", v.buf);
	CHECK(!http_header(&r, "X-Next", &v), "prefix must not match");
	CHECK(http_header(&r, "x-total", &v) && !strcmp(v.buf, "9"), "total [%s]", v.buf);

	strbuf_addstr(&r.body, "{\"data\":null,\"errors\":{\"memory\":\"value must be >= 16\"}}");
	strbuf_addstr(&r.reason, "Parameter verification failed.");
	strbuf_reset(&v);
	http_error_text(&r, &v);
	CHECK(!strcmp(v.buf, "memory: value must be >= 16"), "pve errors [%s]", v.buf);

	strbuf_reset(&r.body);
	strbuf_addstr(&r.body, "{\"message\":{\"deploy_key.fingerprint_sha256\":[\"has already been taken\"]}}");
	strbuf_reset(&v);
	http_error_text(&r, &v);
	CHECK(!strcmp(v.buf, "deploy_key.fingerprint_sha256: has already been taken"), "gitlab [%s]", v.buf);

	strbuf_reset(&r.body);
	strbuf_addstr(&r.body, "<html>\n<b>bad\tgateway</b></html>");
	strbuf_reset(&r.reason);
	strbuf_reset(&v);
	http_error_text(&r, &v);
	CHECK(!strcmp(v.buf, "<html> <b>bad gateway</b></html>"), "html [%s]", v.buf);
	strbuf_release(&v);
	http_response_release(&r);
}

static void url(const char *u, int ok)
{
	struct strbuf err = STRBUF_INIT;
	int rc = http_url_check(u, &err);
	CHECK((rc == 0) == ok, "%s: rc %d (%s)", u, rc, err.buf);
	strbuf_release(&err);
}

static void test_urls(void)
{
	url("https://pve.lan:8006", 1);
	url("https://10.0.0.2:8006/api2/json", 1);
	url("http://127.0.0.1:18006", 1);
	url("http://127.9.0.1", 1);
	url("http://localhost:8080/api/v4", 1);
	url("http://[::1]:8006", 1);
	url("http://10.0.0.2:8006", 0);
	url("http://127.0.0.1.evil.example:8006", 0);
	url("http://localhost.evil.example", 0);
	url("ftp://127.0.0.1", 0);
	url("https://user:pw@host", 0);
	url("https://", 0);
	url("https://host/a b", 0);
}

static void test_proxmox(void)
{
	struct strbuf n = STRBUF_INIT;
	CHECK(proxmox_task_ok("OK"), "OK");
	CHECK(proxmox_task_ok("WARNINGS: 3"), "warnings");
	CHECK(!proxmox_task_ok("unable to create VM 101"), "error");
	CHECK(!proxmox_task_ok(NULL), "null");
	CHECK(proxmox_upid_node("UPID:pve-2:00001234:0001:6745A1B2:qmstart:101:root@pam:", &n) == 0 &&
	      !strcmp(n.buf, "pve-2"), "node [%s]", n.buf);
	CHECK(proxmox_upid_node("UPID::x", &n) == -1, "empty node");
	CHECK(proxmox_upid_node("nonsense", &n) == -1, "not a upid");
	strbuf_release(&n);
}

static void core(const char *line, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = gitlab_key_core(line, &sb);
	if (want)
		CHECK(rc == 0 && !strcmp(sb.buf, want), "[%s] -> [%s]", line, sb.buf);
	else
		CHECK(rc == -1, "[%s] should be rejected", line);
	strbuf_release(&sb);
}

static void test_keys(void)
{
	core("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq argocd-deploy-key\n",
	     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq");
	core("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAB+/==", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAB+/==");
	core("no-pty,command=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq c",
	     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq");
	core("ssh-ed25519", NULL);
	core("ssh-ed25519 not*base64*at*all", NULL);
	core("-----BEGIN OPENSSH PRIVATE KEY-----", NULL);
	core("", NULL);
}

int main(void)
{
	UNIT_TEST(test_encode);
	UNIT_TEST(test_headers_and_errors);
	UNIT_TEST(test_urls);
	UNIT_TEST(test_proxmox);
	UNIT_TEST(test_keys);
	return unit_done();
}
