# clusterc: build, test, install, bench, fuzz.
# Switches (STYLE.md habit 10): SANITIZE=address,undefined  VALGRIND=1  V=1
.DEFAULT_GOAL := all
SHELL := /bin/bash

CC       ?= cc
PREFIX   ?= /usr/local
SANITIZE ?=
VALGRIND ?=

ifeq ($(SANITIZE),)
BUILD ?= build
OPT   ?= -O2
else
BUILD ?= build/san
OPT   ?= -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=$(SANITIZE)
endif

WARN     := -std=c17 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla
CPPFLAGS += -D_DEFAULT_SOURCE -D_GNU_SOURCE
CFLAGS   ?= -g
CFLAGS   += $(WARN) $(OPT)
LDLIBS   += -lyaml -ljansson -lcurl
LDFLAGS  += $(SAN_LDFLAGS)

# compiler/<folder>/ is one stage of the pipeline (compiler/README.md). Each
# folder sees only the headers of the folders it may use, so the layering is
# enforced by the compiler: the runner (run/, api/) reads only out/ and builds
# without the front end's and back end's include paths.
INC_lib   := -Icompiler/lib
INC_front := -Icompiler/front $(INC_lib) -I$(BUILD)/grammar
INC_back  := -Icompiler/back $(INC_lib)
INC_api   := -Icompiler/api $(INC_lib)
INC_run   := -Icompiler/run $(INC_api)
INC_cmd   := -Icompiler/cmd -Icompiler/front -Icompiler/back -Icompiler/run $(INC_api) -I$(BUILD)/grammar
# Tests and test tools may reach every stage.
INC_tests := $(INC_cmd)

# Every compiler/*/*.c is part of the binary; cmd/main.c is the only one with main().
SRCS      := $(sort $(wildcard compiler/*/*.c))
SRCS      := $(filter-out compiler/tools/%,$(SRCS))
LIB_SRCS  := $(filter-out compiler/cmd/main.c,$(SRCS))
GRAMMAR_C := $(BUILD)/grammar/parser.c $(BUILD)/grammar/lexer.c
STDLIB_FILES := $(shell find stdlib -type f ! -name '*~' 2>/dev/null | LC_ALL=C sort)
STDLIB_C  := $(BUILD)/stdlib_blob.c

LIB_OBJS  := $(LIB_SRCS:compiler/%.c=$(BUILD)/obj/%.o) \
             $(BUILD)/obj/parser.o $(BUILD)/obj/lexer.o $(BUILD)/obj/stdlib_blob.o
MAIN_OBJ  := $(BUILD)/obj/cmd/main.o
LIBA      := $(BUILD)/libclusterc.a
BIN       := $(if $(SANITIZE),$(BUILD)/clusterc,clusterc)

# Unit tests: tests/unit/test_*.c, each its own program linked against the library.
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Test tools: tests/tools/*.c, small programs the shell tests drive.
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

ifneq ($(V),1)
Q := @
endif

.PHONY: all deps check test unit install uninstall bench fuzz clean update-golden examples
all: $(BIN) $(UNIT_BINS) $(TOOL_BINS)

$(BUILD)/grammar/parser.c $(BUILD)/grammar/parser.h: grammar/clusterc.y
	@mkdir -p $(@D)
	$(Q)bison -Wall -Werror --defines=$(BUILD)/grammar/parser.h -o $(BUILD)/grammar/parser.c $<

$(BUILD)/grammar/lexer.c $(BUILD)/grammar/lexer.h: grammar/clusterc.l $(BUILD)/grammar/parser.h
	@mkdir -p $(@D)
	$(Q)flex --header-file=$(BUILD)/grammar/lexer.h -o $(BUILD)/grammar/lexer.c $<

# The stdlib is compiled into the binary so one file installs.
$(BUILD)/embed: compiler/tools/embed.c
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c17 -Wall -Wextra -Werror -O1 -o $@ $<

$(STDLIB_C): $(BUILD)/embed $(STDLIB_FILES)
	@mkdir -p $(@D)
	$(Q)$(BUILD)/embed stdlib $(STDLIB_FILES) > $@.tmp && mv $@.tmp $@

# The stem's first component names the folder, and so its include paths.
$(BUILD)/obj/%.o: compiler/%.c | $(BUILD)/grammar/parser.h $(BUILD)/grammar/lexer.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(INC_$(firstword $(subst /, ,$*))) $(CFLAGS) -MMD -MP -c -o $@ $<

# Generated code is compiled without the warnings we cannot fix in flex's output.
$(BUILD)/obj/parser.o: $(BUILD)/grammar/parser.c $(BUILD)/grammar/lexer.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(INC_front) $(CFLAGS) -Wno-unused-function -Wno-unused-parameter -Wno-shadow -MMD -MP -c -o $@ $<
$(BUILD)/obj/lexer.o: $(BUILD)/grammar/lexer.c $(BUILD)/grammar/parser.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(INC_front) $(CFLAGS) -Wno-unused-function -Wno-unused-parameter -Wno-sign-compare -Wno-shadow -MMD -MP -c -o $@ $<
$(BUILD)/obj/stdlib_blob.o: $(STDLIB_C)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(INC_lib) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIBA)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBA)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(INC_tests) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIBA)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(INC_tests) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj/*/*.d)

# ---- dependencies: Debian packages and the npm validators, a no-op when present
deps:
	@bash tests/deps.sh

# ---- tests: every area's driver under tests/<area>/run.sh, then one summary line
check test: all
	@bash tests/run.sh

unit: $(UNIT_BINS)
	@bash tests/run.sh unit

update-golden: all
	@UPDATE_GOLDEN=1 bash tests/run.sh golden diagnostics

# Rebuilds the committed out/ from clusters/ (the examples' artifacts).
examples: $(BIN)
	@bash tests/golden/update-out.sh

fuzz:
	@$(MAKE) --no-print-directory -C . -f tests/fuzz/fuzz.mk run FUZZ_SECONDS=$${FUZZ_SECONDS:-60}

bench: all
	@bash tests/bench/run.sh

# Where packagers expect things (FHS and the bash-completion, zsh and vim
# conventions); DESTDIR stages an install for a package.
MANDIR   ?= $(PREFIX)/share/man
BASHCOMP ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMP  ?= $(PREFIX)/share/zsh/site-functions
VIMDIR   ?= $(PREFIX)/share/vim/vimfiles

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASHCOMP) $(DESTDIR)$(ZSHCOMP) $(DESTDIR)$(VIMDIR)/syntax $(DESTDIR)$(VIMDIR)/ftdetect
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/clusterc
	install -m 0644 docs/man/clusterc.1 $(DESTDIR)$(MANDIR)/man1/clusterc.1
	install -m 0644 docs/man/clusterc.5 $(DESTDIR)$(MANDIR)/man5/clusterc.5
	install -m 0644 docs/completion/clusterc.bash $(DESTDIR)$(BASHCOMP)/clusterc
	install -m 0644 docs/completion/_clusterc $(DESTDIR)$(ZSHCOMP)/_clusterc
	install -m 0644 docs/editors/vim/syntax/cluster.vim $(DESTDIR)$(VIMDIR)/syntax/cluster.vim
	install -m 0644 docs/editors/vim/ftdetect/cluster.vim $(DESTDIR)$(VIMDIR)/ftdetect/cluster.vim

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/clusterc $(DESTDIR)$(MANDIR)/man1/clusterc.1 \
		$(DESTDIR)$(MANDIR)/man5/clusterc.5 $(DESTDIR)$(BASHCOMP)/clusterc $(DESTDIR)$(ZSHCOMP)/_clusterc \
		$(DESTDIR)$(VIMDIR)/syntax/cluster.vim $(DESTDIR)$(VIMDIR)/ftdetect/cluster.vim

clean:
	rm -rf build clusterc
