# lavafs — see README.md. `make` builds build/lavafs; `make check` installs what is missing,
# builds with sanitizers and runs every test; `make run` mounts a demo store.

CC       ?= gcc
PKGS      = fuse3 yaml-0.1 libguestfs cmocka libarchive libcurl libcrypto
VERSION   = 0.1.0
PREFIX   ?= /usr/local
SANITIZE ?= 0

# The build directory follows SANITIZE; only a BUILD= on the command line overrides it (tests
# export BUILD for their own use, and a sanitized library must never meet a plain build).
ifeq ($(SANITIZE),1)
OPT       = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN     = -fsanitize=address,undefined
ifneq ($(origin BUILD),command line)
BUILD    := build/asan
endif
else
OPT       = -O2 -g
LDSAN     =
ifneq ($(origin BUILD),command line)
BUILD    := build
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs fuse3 yaml-0.1 libguestfs libarchive libcurl libcrypto 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS   += -std=c11 -D_GNU_SOURCE -DLAVAFS_VERSION='"$(VERSION)"' \
	    -DLAVAFS_DATADIR='"$(PREFIX)/share/lavafs"' -Wall -Wextra -Werror \
	    -Wno-unused-parameter -Wno-format-truncation -pthread $(OPT) $(PKG_CFLAGS) -Icore -MMD -MP
LDFLAGS  += -pthread $(LDSAN)
LDLIBS   += $(PKG_LIBS) -lm

CORE_SRC  = $(sort $(wildcard core/*.c))
FS_SRC    = $(sort $(wildcard fs/*.c))
UNIT_SRC  = $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC = $(sort $(wildcard tests/bench/bench_*.c))
CORE_OBJ  = $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
FS_OBJ    = $(FS_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN = $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps check test unit benchbin run install clean fuzz bench format

all: $(BUILD)/lavafs

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The shipped templates' directory is compiled in from PREFIX: a stamp holding the PREFIX of
# the last build rebuilds what uses it when `make install PREFIX=...` names another one.
$(BUILD)/.prefix: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(PREFIX)" ] || echo "$(PREFIX)" > $@

$(BUILD)/obj/fs/cli_common.o: $(BUILD)/.prefix

.PHONY: FORCE
FORCE:

$(BUILD)/libcore.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lavafs: $(FS_OBJ) $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) -o $@ $(FS_OBJ) $(BUILD)/libcore.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libcore.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libcore.a $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(BUILD)/libcore.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libcore.a $(LDLIBS)

unit: $(UNIT_BIN)

benchbin: $(BENCH_BIN)

# Installs build and test dependencies with apt-get when any is missing (silent otherwise).
deps:
	@sh .ci/install-deps

# check: sanitizer build for the tests, the optimized build for the benchmarks.
check: deps
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory SANITIZE=1 all unit
	sh tests/run-tests.sh build/asan

test: check

# Benchmarks print ratios against a reference measured in the same run (tests/bench/b-*.sh).
bench: deps all benchbin
	sh tests/bench/run.sh build

fuzz: deps
	$(MAKE) --no-print-directory -f tests/fuzz/fuzz.mk FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) run

run: deps all
	sh tests/demo.sh build/lavafs

install: all
	install -D -m 0755 $(BUILD)/lavafs $(DESTDIR)$(PREFIX)/bin/lavafs
	install -d $(DESTDIR)$(PREFIX)/share/lavafs/templates
	cp -r templates/. $(DESTDIR)$(PREFIX)/share/lavafs/templates/
	install -D -m 0644 man/lavafs.8 $(DESTDIR)$(PREFIX)/share/man/man8/lavafs.8
	install -D -m 0644 man/lavafs.5 $(DESTDIR)$(PREFIX)/share/man/man5/lavafs.5

format:
	clang-format -i core/*.[ch] fs/*.[ch] tests/unit/*.c

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(FS_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.d)

# tsan: the core under ThreadSanitizer with a threaded stress driver (run by tests/t-stress.sh):
# many threads compose with one shared jinja_env while templates are replaced and invalidated.
# Also the whole daemon under TSan, for the mount storm of t-stress.
TSAN_BUILD = build/tsan
.PHONY: tsan
tsan: $(TSAN_BUILD)/stress_core $(TSAN_BUILD)/lavafs

$(TSAN_BUILD)/lavafs: $(CORE_SRC) $(FS_SRC) $(wildcard core/*.h fs/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -DLAVAFS_VERSION='"$(VERSION)"' -Wall -Wextra -Werror \
		-Wno-unused-parameter -Wno-format-truncation -pthread -O1 -g -fsanitize=thread \
		$(PKG_CFLAGS) -Icore -o $@ $(CORE_SRC) $(FS_SRC) $(PKG_LIBS) -lm

$(TSAN_BUILD)/stress_core: $(CORE_SRC) $(wildcard core/*.h) tests/stress/stress_core.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -DLAVAFS_VERSION='"$(VERSION)"' -Wall -Wextra -Werror \
		-Wno-unused-parameter -Wno-format-truncation -pthread -O1 -g -fsanitize=thread \
		$(PKG_CFLAGS) -Icore -o $@ $(CORE_SRC) tests/stress/stress_core.c $(PKG_LIBS) -lm
