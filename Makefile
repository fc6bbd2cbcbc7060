# k1s build. `make` builds build/k1s (optimised); `make test` builds an
# ASan+UBSan build in build/asan and runs the unit and end-to-end tests.
# Sources are found by globbing, so adding a .c file needs no edit here.

CC      ?= cc
PKGS    := libevent_core libevent_extra libevent_openssl libevent_pthreads openssl jansson yaml-0.1 sqlite3 zlib libnghttp2 libcurl libarchive
# Compiled against but not linked: loaded on first use (src/runtime/libs.h), so
# processes that never pull or unpack an image (the shims) do not map them.
DL_PKGS := libcurl libarchive
PYTHON  := /usr/bin/python3
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(filter-out $(DL_PKGS),$(PKGS)) 2>/dev/null)

WARN    := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wshadow=local -Wformat=2 -Wno-format-truncation -Wno-format-nonliteral
CFLAGS_COMMON := -std=c17 -D_GNU_SOURCE -Isrc -Ibuild/gen $(WARN) $(PKG_CFLAGS) -DK1S_VERSION='"$(VERSION)"' -fno-strict-aliasing
LDLIBS  := $(PKG_LIBS) -ldl -lpthread -lm
# Bind every symbol at start (full RELRO): lazy binding would have a long-lived
# process (a shim) walk every library's symbol tables, and keep them resident,
# the first time its steady loop calls a function.
LDFLAGS := -Wl,-z,now
# Unit tests also build tarballs with libarchive themselves.
UNIT_LDLIBS := $(LDLIBS) $(shell pkg-config --libs libarchive 2>/dev/null) -lcmocka

# Each function and object in its own section, so that links can drop what nothing
# reaches (--gc-sections): build/k1s is smaller, and build/shim-linkcheck (below) sees
# exactly what the shim's code calls.
REL_CFLAGS  := $(CFLAGS_COMMON) -O2 -g -ffunction-sections -fdata-sections
ASAN_CFLAGS := $(CFLAGS_COMMON) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS      := $(shell find src -name '*.c' | sort)
LIB_SRCS  := $(filter-out src/cli/main.c,$(SRCS))
GEN_SRCS  := build/gen/openapi_data.c build/gen/proto_data.c build/gen/rbac_policy.c
UNIT_SRCS := $(shell find tests/unit -name '*.c' 2>/dev/null | sort)

REL_OBJS  := $(patsubst %.c,build/obj/%.o,$(LIB_SRCS)) $(patsubst build/gen/%.c,build/obj/gen/%.o,$(GEN_SRCS))
ASAN_OBJS := $(patsubst %.c,build/asan/obj/%.o,$(LIB_SRCS)) $(patsubst build/gen/%.c,build/asan/obj/gen/%.o,$(GEN_SRCS))
UNIT_BINS := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS))

.PHONY: all deps test unit e2e run bench format lint clean asan
.DEFAULT_GOAL := all

all: build/k1s build/shim-linkcheck

build/k1s: build/obj/src/cli/main.o build/libk1s.a
	$(CC) $(LDFLAGS) -Wl,--gc-sections -o $@ $^ $(LDLIBS)

# A running shim (`k1s shim`) unmaps every shared library but libc, libm and these
# (SHIM_LIBS in src/runtime/shim-trim.c): OpenSSL alone is 0.4 MB of relocated data per
# container. This link, of the shim's entry point alone with nothing but them, fails if
# its code can reach a function of any other library.
SHIM_LIBS := -ljansson -lm
build/shim-linkcheck: build/obj/tools/shim-linkcheck.o build/libk1s.a
	$(CC) -Wl,--gc-sections -o $@ $^ $(SHIM_LIBS)

build/libk1s.a: $(REL_OBJS)
	@rm -f $@; ar rcs $@ $^

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(REL_CFLAGS) -MMD -MP -c -o $@ $<

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -c -o $@ $<

asan: build/asan/k1s

build/asan/k1s: build/asan/obj/src/cli/main.o build/asan/libk1s.a
	$(CC) -fsanitize=address,undefined $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/asan/libk1s.a: $(ASAN_OBJS)
	@rm -f $@; ar rcs $@ $^

build/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"; $(CC) $(ASAN_CFLAGS) -MMD -MP -c -o $@ $<

build/asan/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -c -o $@ $<

# OpenAPI schemas, generated from python3-kubernetes (see tools/gen-openapi.py).
build/gen/openapi_data.c: tools/gen-openapi.py $(wildcard tools/openapi-*.json)
	@mkdir -p build/gen
	$(PYTHON) tools/gen-openapi.py $@

# Protobuf message schemas, read from the descriptors embedded in Debian's
# kubectl 1.20 (see tools/gen-proto.py; it fetches kubernetes-client if needed).
build/gen/proto_data.c: tools/gen-proto.py $(wildcard build/deps/kubectl-1.20/usr/bin/kubectl)
	@mkdir -p build/gen
	$(PYTHON) tools/gen-proto.py $@

# The default RBAC policy (src/api/rbac-policy.json), compiled in as data.
build/gen/rbac_policy.c: src/api/rbac-policy.json tools/gen-embed.py
	@mkdir -p build/gen
	$(PYTHON) tools/gen-embed.py $< k1s_rbac_policy_json $@

build/asan/tests/%: tests/unit/%.c build/asan/libk1s.a
	@mkdir -p $(dir $@)
	@echo "  LD test $@"; $(CC) $(ASAN_CFLAGS) -Itests/unit -o $@ $< build/asan/libk1s.a $(UNIT_LDLIBS)

deps:
	@sh tools/deps.sh

unit: $(UNIT_BINS) build/shim-linkcheck
	@sh tools/run-unit.sh $(UNIT_BINS)

e2e: build/asan/k1s build/k1s
	K1S_BIN=$(CURDIR)/build/asan/k1s $(PYTHON) -m pytest $(E2E_ARGS) tests/e2e

# The end-to-end modules run on E2E_JOBS pytest-xdist workers, each module on one worker
# (tests/e2e/conftest.py groups them; the ones that run containers share one worker).
E2E_JOBS ?= 2
E2E_ARGS := -q -p no:cacheprovider -n $(E2E_JOBS) --dist loadgroup

test: deps
	$(MAKE) build/k1s build/asan/k1s $(UNIT_BINS)
	@sh tools/run-unit.sh $(UNIT_BINS)
	K1S_BIN=$(CURDIR)/build/asan/k1s $(PYTHON) -m pytest $(E2E_ARGS) tests/e2e

run: deps
	$(MAKE) build/k1s
	@sh tools/run.sh

bench: deps
	$(MAKE) build/k1s
	@sh bench/run.sh

format:
	clang-format -i $(SRCS) $(UNIT_SRCS) $(shell find src tests/unit -name '*.h')

lint:
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
	  --suppress=missingIncludeSystem --inline-suppr -Isrc $(SRCS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
