# raftcache: one non-recursive Makefile.
#
#   make            build build/raftcache-server
#   make run        start a local 3-node cluster on 127.0.0.1:7001-7003 (data
#                   in ./data, reused), print the leader; Ctrl-C stops it
#   make test       every quick test layer; ends with "N passed, N failed"
#   make test-full  the slow tiers as well (long seeds, fuzzing, slow tags)
#   make asan       the same build with AddressSanitizer and UBSan in build-asan/
#   make test-asan  the test suite against the asan build
#   make chaos      kill, restart and isolate nodes under writes for
#                   CHAOS_SECONDS (120), then check no acknowledged write was
#                   lost (tests/chaos/chaos.py; not part of make test)
#   V=1             show the commands
#
# Every source file under src/ is part of the server; src/server.c holds
# main(). All other objects go into build/libraftcache.a, which the test
# programs link, so a test binary only pulls in the rooms it uses.
# Rooms and test layers may add their own rules in a rules.mk beside their
# sources (src/*/rules.mk, tests/*/rules.mk), included below.

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?=
SANITIZE ?=

PKGS     := liburing libxxhash
WARN     := -Wall -Wextra -Werror -Wstrict-prototypes -Wno-unused-parameter
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -MMD -MP -Isrc \
             $(shell pkg-config --cflags $(PKGS)) $(SANITIZE) $(CFLAGS)
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS)) -lev -lm -lpthread $(SANITIZE)
TEST_LIBS  = $(shell pkg-config --libs cmocka hiredis)

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRC_ALL  := $(wildcard src/*.c src/*/*.c)
MAIN_SRC := src/server.c
LIB_SRC  := $(filter-out $(MAIN_SRC),$(SRC_ALL))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libraftcache.a
SERVER   := $(BUILD)/raftcache-server

# Unit tests: tests/unit/<room>/test_<file>.c, one binary each.
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN := $(UNIT_SRC:%.c=$(BUILD)/%)

# Test programs added by rules.mk files append themselves here.
TEST_BINS :=

.PHONY: all run test test-full asan test-asan chaos clean deps programs
all: deps $(SERVER)

deps:
	$(Q)bash deps/install.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(SERVER): $(BUILD)/$(MAIN_SRC:.c=.o) $(LIB)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(LIB) $(TEST_LIBS) $(LDLIBS_ALL)

-include $(wildcard src/*/rules.mk tests/*/rules.mk)

run: deps $(SERVER)
	BIN=$(SERVER) BASE_PORT=7001 DATA_DIR=./data bash tests/cluster.sh start --foreground

# The quick tiers. Each layer is a script in tests/layers/ that ends with
# its own "N passed, N failed"; tests/run.sh adds them up.
test: deps
	$(Q)$(MAKE) --no-print-directory -j2 programs
	$(Q)BUILD=$(BUILD) bash tests/run.sh

test-full: deps
	$(Q)$(MAKE) --no-print-directory -j2 programs
	$(Q)BUILD=$(BUILD) FULL=1 bash tests/run.sh

# Everything the test layers run.
programs: $(SERVER) $(UNIT_BIN) $(TEST_BINS)

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	    SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    programs

test-asan: asan
	$(Q)BUILD=build-asan ASAN=1 bash tests/run.sh

chaos: deps $(SERVER)
	$(Q)/usr/bin/python3 tests/chaos/chaos.py --bin $(SERVER) --seconds $(or $(CHAOS_SECONDS),120) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(BUILD)/$(MAIN_SRC:.c=.d)
