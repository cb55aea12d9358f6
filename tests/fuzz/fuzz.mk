# libFuzzer targets for the parsers of core/ (see tests/fuzz/README).
#
#   make -f tests/fuzz/fuzz.mk                 build build/fuzz/fuzz_* (clang, ASan+UBSan)
#   make -f tests/fuzz/fuzz.mk run FUZZ_SECONDS=60
#                                              fuzz each target in turn, one job at a time
#   make -f tests/fuzz/fuzz.mk run-jinja FUZZ_SECONDS=600
#   make -f tests/fuzz/fuzz.mk replay          every tests/fuzz/regressions/TARGET/* once
#
# Each target links core/*.c only (no fs/, no FUSE). New inputs found while fuzzing go to
# build/fuzz/corpus/TARGET (the committed seeds in tests/fuzz/corpus/TARGET stay read-only),
# crashes to build/fuzz/crashes/.

FUZZ_CC      ?= $(shell command -v clang-14 2>/dev/null || command -v clang 2>/dev/null || echo clang)
FUZZ_BUILD   ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
FUZZ_PKGS     = yaml-0.1 libguestfs libarchive libcurl libcrypto

# clang warns about a GNU extension gcc takes silently (core/host.c's kvm_msrs wrapper).
FUZZ_WARN    = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-gnu-variable-sized-type-not-at-end
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -DLAVAFS_VERSION='"fuzz"' -g -O1 -fno-omit-frame-pointer \
	       $(FUZZ_WARN) -pthread $(FUZZ_SAN) -Icore \
	       $(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null)
FUZZ_LIBS    = $(shell pkg-config --libs $(FUZZ_PKGS) 2>/dev/null) -lm

FUZZ_CORE_SRC = $(sort $(wildcard core/*.c))
FUZZ_CORE_OBJ = $(FUZZ_CORE_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SRC      = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS  = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN      = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

# Longest input worth mutating, per target (templates and jobs are bigger than a word list).
FUZZ_MAXLEN_jinja      = 4096
FUZZ_MAXLEN_compose    = 8192
FUZZ_MAXLEN_job        = 8192
FUZZ_MAXLEN_yaml       = 4096
FUZZ_MAXLEN_env        = 2048
FUZZ_MAXLEN_shellwords = 1024
fuzz_maxlen = $(or $(FUZZ_MAXLEN_$(1)),4096)
# Token dictionaries (tests/fuzz/corpus/*.dict): template tokens for the targets whose input
# starts with a template, YAML tokens for the YAML ones.
FUZZ_DICT_jinja   = jinja.dict
FUZZ_DICT_compose = jinja.dict
FUZZ_DICT_job     = yaml.dict
FUZZ_DICT_yaml    = yaml.dict
FUZZ_DICT_env     = yaml.dict

# Per-input time and memory ceilings: a slow or greedy input is a finding too (limits).
FUZZ_OPTS = -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crashes/$(1)- -max_len=$(call fuzz_maxlen,$(1)) \
	    $(if $(FUZZ_DICT_$(1)),-dict=tests/fuzz/corpus/$(FUZZ_DICT_$(1)))

.PHONY: fuzz-all run replay $(FUZZ_TARGETS:%=run-%)

fuzz-all: $(FUZZ_BIN)

# Core objects carry coverage instrumentation (fuzzer-no-link) but no libFuzzer main.
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libcore.a: $(FUZZ_CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libcore.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libcore.a $(FUZZ_LIBS)

# One target at a time (the machine is shared): each gets FUZZ_SECONDS.
run: $(FUZZ_BIN)
	@for t in $(FUZZ_TARGETS); do \
		$(MAKE) --no-print-directory -f tests/fuzz/fuzz.mk run-$$t || exit 1; \
	done

$(FUZZ_TARGETS:%=run-%): run-%: $(FUZZ_BUILD)/fuzz_%
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/crashes
	@echo "fuzz: $* for $(FUZZ_SECONDS)s"
	$(FUZZ_BUILD)/fuzz_$* $(call FUZZ_OPTS,$*) -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS) \
		$(FUZZ_BUILD)/corpus/$* $(wildcard tests/fuzz/corpus/$*)

# Every saved crasher once, through its own target (a directory per target).
replay: $(FUZZ_BIN)
	@st=0; for d in tests/fuzz/regressions/*/; do \
		[ -d "$$d" ] || continue; t=$$(basename "$$d"); \
		ls "$$d" | grep -q . || continue; \
		$(FUZZ_BUILD)/fuzz_$$t -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
			"$$d"* >/dev/null 2>&1 || \
			{ echo "fuzz: regression failed: $$d"; st=1; }; \
	done; exit $$st

-include $(FUZZ_CORE_OBJ:.o=.d)
