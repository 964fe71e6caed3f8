# tests/fuzz/fuzz.mk: the libFuzzer target for the front end.
#   make -f tests/fuzz/fuzz.mk build            builds build/fuzz/fuzz_parse
#   make -f tests/fuzz/fuzz.mk run FUZZ_SECONDS=N   fuzzes for N seconds (default 60)
# `make fuzz` runs the second. The library is built by the main Makefile into
# build/fuzz/ with clang and the fuzzer's instrumentation (no -Werror: clang's
# warnings differ from gcc's, and this build is for finding bugs, not lint).
# New inputs go to build/fuzz/corpus/, seeded from tests/fuzz/corpus/; crashes
# are written to build/fuzz/ as crash-*, leak-*, timeout-*.
SHELL        := /bin/bash
FUZZ_CC      ?= clang
FUZZ_DIR     ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -std=c17 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN)
LDLIBS       := -lyaml -ljansson -lcurl

.PHONY: build run FORCE
build: $(FUZZ_DIR)/fuzz_parse $(FUZZ_DIR)/fuzz_replay

# The main Makefile knows how to build the library (grammar, stdlib blob);
# it decides itself whether anything is out of date.
$(FUZZ_DIR)/libclusterc.a: FORCE
	@$(MAKE) --no-print-directory -f Makefile BUILD=$(FUZZ_DIR) CC=$(FUZZ_CC) \
		CFLAGS="$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link" $@

$(FUZZ_DIR)/fuzz_parse: tests/fuzz/fuzz_parse.c $(FUZZ_DIR)/libclusterc.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -D_GNU_SOURCE -Icompiler/lib -Icompiler/front -o $@ $< \
		$(FUZZ_DIR)/libclusterc.a $(LDLIBS)

# The same entry point with a main() that replays files, without libFuzzer.
$(FUZZ_DIR)/fuzz_replay: tests/fuzz/fuzz_parse.c $(FUZZ_DIR)/libclusterc.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_STANDALONE -D_GNU_SOURCE -Icompiler/lib -Icompiler/front -o $@ $< \
		$(FUZZ_DIR)/libclusterc.a $(LDLIBS)

FORCE:

run: build
	@mkdir -p $(FUZZ_DIR)/corpus
	cd $(FUZZ_DIR) && ASAN_OPTIONS=detect_leaks=1 ./fuzz_parse -max_total_time=$(FUZZ_SECONDS) \
		-dict=$(CURDIR)/tests/fuzz/cluster.dict -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 \
		corpus $(CURDIR)/tests/fuzz/corpus
