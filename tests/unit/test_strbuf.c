/* Unit tests for lib/strbuf: the helpers whose edge cases are easy to get
 * wrong (trimming line endings). */
#include "strbuf.h"
#include "unit.h"

#include <string.h>

static void test_rtrim_newlines(void)
{
	const char *cases[][2] = {
		{ "", "" },
		{ "\n", "" },
		{ "\r\n\n\r", "" },
		{ "abc", "abc" },
		{ "abc\n", "abc" },
		{ "abc\r\n", "abc" },
		{ "abc\n\n\n", "abc" },
		{ "a\nb\n", "a\nb" },     /* only the end is trimmed */
		{ "\nabc", "\nabc" },
		{ "abc \n", "abc " },     /* spaces are content */
		{ "abc\r", "abc" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addstr(&sb, cases[i][0]);
		strbuf_rtrim_newlines(&sb);
		CHECK(!strcmp(sb.buf, cases[i][1]) && sb.len == strlen(cases[i][1]),
		      "case %zu: got '%s' (len %zu), want '%s'", i, sb.buf, sb.len, cases[i][1]);
		strbuf_release(&sb);
	}
	/* An empty, never-allocated buffer stays the shared empty string. */
	struct strbuf sb = STRBUF_INIT;
	strbuf_rtrim_newlines(&sb);
	CHECK(sb.len == 0 && sb.buf[0] == '\0' && sb.alloc == 0, "empty buffer untouched");
}

int main(void)
{
	UNIT_TEST(test_rtrim_newlines);
	return unit_done();
}
