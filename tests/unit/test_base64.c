/* Unit tests for lib/base64, the one base64 of the compiler and the runner:
 * the RFC 4648 section 10 vectors, binary bytes, round trips, and the
 * validity check the runner applies to a value a step hands back. */
#include "base64.h"
#include "strbuf.h"
#include "unit.h"

#include <string.h>

static const char *vectors[][2] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	{ "a b'$\n", "YSBiJyQK" },
};

static void test_encode(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(*vectors); i++) {
		struct strbuf sb = STRBUF_INIT;
		base64_encode(&sb, vectors[i][0], strlen(vectors[i][0]));
		CHECK(!strcmp(sb.buf, vectors[i][1]), "[%s]: got [%s] want [%s]", vectors[i][0], sb.buf,
		      vectors[i][1]);
		strbuf_release(&sb);
	}
	struct strbuf sb = STRBUF_INIT;
	base64_encode(&sb, "\xff\xfe\x00", 3);
	CHECK(!strcmp(sb.buf, "//4A"), "binary: %s", sb.buf);
	strbuf_release(&sb);
}

static void test_decode(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(*vectors); i++) {
		struct strbuf sb = STRBUF_INIT;
		CHECK(base64_decode(&sb, vectors[i][1], strlen(vectors[i][1])) == 0 &&
		      !strcmp(sb.buf, vectors[i][0]), "[%s] decoded as [%s]", vectors[i][1], sb.buf);
		strbuf_release(&sb);
	}
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	struct strbuf e = STRBUF_INIT, d = STRBUF_INIT;
	base64_encode(&e, all, sizeof(all));
	CHECK(base64_decode(&d, e.buf, e.len) == 0 && d.len == 256 && !memcmp(d.buf, all, 256),
	      "every byte value round-trips");
	strbuf_reset(&d);
	CHECK(base64_decode(&d, "Zm9v!", 5) < 0, "a byte outside the alphabet is refused");
	strbuf_release(&e);
	strbuf_release(&d);
}

static void test_valid(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(*vectors); i++)
		CHECK(base64_valid(vectors[i][1]), "[%s] is valid", vectors[i][1]);
	CHECK(!base64_valid("abc"), "length not a multiple of 4");
	CHECK(!base64_valid("ab=c"), "padding in the middle");
	CHECK(!base64_valid("a==="), "three padding characters");
	CHECK(!base64_valid("a b="), "space");
}

int main(void)
{
	UNIT_TEST(test_encode);
	UNIT_TEST(test_decode);
	UNIT_TEST(test_valid);
	return unit_done();
}
