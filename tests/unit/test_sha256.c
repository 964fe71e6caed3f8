/* Unit tests for sha256.c: the FIPS 180-2 appendix B vectors, the empty
 * string, a million 'a's, and streaming in uneven pieces. */
#include "sha256.h"
#include "strbuf.h"
#include "unit.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void expect_hex(const char *what, struct strbuf *got, const char *want)
{
	CHECK(!strcmp(got->buf, want), "%s: got %s want %s", what, got->buf, want);
}

static void test_vectors(void)
{
	struct strbuf sb = STRBUF_INIT;
	sha256_hex(&sb, "abc", 3);
	expect_hex("abc", &sb, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	strbuf_reset(&sb);
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(&sb, two, strlen(two));
	expect_hex("448 bits", &sb, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	strbuf_reset(&sb);
	sha256_hex(&sb, "", 0);
	expect_hex("empty", &sb, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	strbuf_release(&sb);
}

static void test_streaming(void)
{
	struct strbuf sb = STRBUF_INIT;

	/* One million 'a', fed in pieces of every size from 1 to 200 bytes so
	 * every path through the block buffer is taken. */
	size_t n = 1000000;
	char *a = xmalloc(n);
	memset(a, 'a', n);
	struct sha256 c;
	sha256_init(&c);
	size_t off = 0, step = 1;
	while (off < n) {
		size_t take = step < n - off ? step : n - off;
		sha256_update(&c, a + off, take);
		off += take;
		step = step % 200 + 1;
	}
	strbuf_reset(&sb);
	sha256_final_hex(&c, &sb);
	expect_hex("million a", &sb, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	strbuf_reset(&sb);
	sha256_hex(&sb, a, n);
	expect_hex("million a one-shot", &sb,
		   "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
	strbuf_release(&sb);
}

static void test_padding_edges(void)
{
	struct strbuf sb = STRBUF_INIT;
	/* Lengths around the padding boundary (55, 56, 63, 64, 65 bytes)
	 * against values from coreutils' sha256sum. */
	static const struct { size_t len; const char *hex; } edge[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
	};
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		char *buf = xmalloc(edge[i].len);
		memset(buf, 'a', edge[i].len);
		strbuf_reset(&sb);
		sha256_hex(&sb, buf, edge[i].len);
		struct strbuf what = STRBUF_INIT;
		strbuf_addf(&what, "%zu x 'a'", edge[i].len);
		expect_hex(what.buf, &sb, edge[i].hex);
		strbuf_release(&what);
		free(buf);
	}
	strbuf_release(&sb);
}

int main(void)
{
	UNIT_TEST(test_vectors);
	UNIT_TEST(test_streaming);
	UNIT_TEST(test_padding_edges);
	return unit_done();
}
