/* Unit tests for the certificate fingerprint forms an operator pastes
 * (lib/sha256.h): pvenode's and openssl's colon form, sha256:hex, either
 * case; anything else refused, so a typo cannot pin nothing. */
#include "sha256.h"
#include "strbuf.h"
#include "unit.h"

#include <string.h>

static const char colon[] = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
			    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
static const char hex[] = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

static void test_forms(void)
{
	unsigned char a[32], b[32];
	struct strbuf s = STRBUF_INIT;
	CHECK(sha256_parse_fingerprint(colon, a) == 0, "pvenode form");
	strbuf_addf(&s, "sha256:%s", hex);
	CHECK(sha256_parse_fingerprint(s.buf, b) == 0 && !memcmp(a, b, 32), "sha256:hex form");
	strbuf_reset(&s);
	strbuf_addf(&s, "SHA256:%s", colon);
	CHECK(sha256_parse_fingerprint(s.buf, b) == 0 && !memcmp(a, b, 32), "prefixed colon form");
	CHECK(a[0] == 0xab && a[31] == 0x89, "bytes %02x..%02x", a[0], a[31]);
	strbuf_reset(&s);
	sha256_format_fingerprint(&s, a);
	CHECK(!strcmp(s.buf + 7, colon) && !strncmp(s.buf, "sha256:", 7), "formatted: %s", s.buf);
	strbuf_release(&s);
}

static void test_refused(void)
{
	unsigned char d[32];
	const char *bad[] = { "", "sha256:", "sha256:12:34", "AB:CD", "sha1:ABCDEF", hex + 2,
			      "abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678900",
			      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:8G",
			      "ABCD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK(sha256_parse_fingerprint(bad[i], d) < 0, "accepted [%s]", bad[i]);
}

int main(void)
{
	UNIT_TEST(test_forms);
	UNIT_TEST(test_refused);
	return unit_done();
}
