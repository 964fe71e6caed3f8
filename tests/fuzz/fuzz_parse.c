/* fuzz_parse: libFuzzer target for the whole front end (lexer, parser,
 * resolver, schema and model checks) on arbitrary bytes. The input is checked
 * from memory through compile_buffer, so nothing on disk is read or written;
 * the diagnostics are printed to a memory stream so the printer (snippets,
 * carets, sorting) runs too.
 *
 * Built by tests/fuzz/fuzz.mk with clang -fsanitize=fuzzer,address,undefined.
 * With -DFUZZ_STANDALONE it gets a main() that runs each file named on the
 * command line once, to replay a crash without libFuzzer. */
#include "compile.h"
#include "diag.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d;
	diag_init(&d);
	json_t *model = compile_buffer("fuzz.cluster", (const char *)data, size, &d);
	json_decref(model);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (out) {
		diag_print(&d, out);
		fclose(out);
	}
	free(buf);
	diag_release(&d);
	return 0;
}

#ifdef FUZZ_STANDALONE
#include "strbuf.h"

int main(int argc, char **argv)
{
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		struct strbuf sb = STRBUF_INIT;
		if (strbuf_read_file(&sb, argv[i]) < 0) {
			perror(argv[i]);
			rc = 2;
		} else {
			LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
		}
		strbuf_release(&sb);
	}
	return rc;
}
#endif
