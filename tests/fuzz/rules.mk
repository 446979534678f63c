# libFuzzer targets, built with clang when it is installed
# (-fsanitize=fuzzer,address,undefined). Each compiles the sources it
# exercises itself, so they carry the fuzzer's coverage instrumentation:
#   fuzz_resp       the RESP parser (what a client sends)
#   fuzz_raft_msg   the Raft message and configuration codecs (a peer)
#   fuzz_raft_step  the Raft core stepped with well-formed hostile messages
#                   and every other event, in the unit tests' fixture
#   fuzz_peer_frame the bus frame parser and the HELLO/AUTH handshake
#   fuzz_wal        WAL recovery from arbitrary meta, segment and snapshot
#                   files, snapshot reading and receiving (a disk, a leader)
#   fuzz_repl       committed entries (commands, META member records,
#                   CONFIG) and snapshot membership blobs in repl/; the
#                   other rooms come uninstrumented from $(LIB)
#   fuzz_store_load the keyspace records of a snapshot (store_load_record)
# Run one by hand:  $(BUILD)/tests/fuzz/fuzz_raft_msg -max_total_time=60 DIR
# (FUZZ_WRITE_SEEDS=DIR $(BUILD)/tests/fuzz/fuzz_x writes its seeds first).
# tests/layers/50-fuzz.sh runs them: a fixed number of runs in `make test`,
# FUZZ_SECONDS each under FULL=1.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror \
              -Wno-unused-parameter -Isrc -Itests -Itests/fuzz \
              -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined

FUZZ_resp_SRC       := src/resp/resp_parse.c
FUZZ_raft_msg_SRC   := $(wildcard src/raft/*.c)
FUZZ_raft_step_SRC  := $(wildcard src/raft/*.c)
FUZZ_peer_frame_SRC := src/transport/peer_frame.c src/transport/peer_auth.c \
                       src/transport/peer_sha256.c
FUZZ_wal_SRC        := $(wildcard src/wal/*.c) src/net/loop.c
FUZZ_wal_LIBS       := $(shell pkg-config --libs liburing libxxhash) -lev \
                       -lpthread
FUZZ_repl_SRC       := $(wildcard src/repl/*.c)
FUZZ_repl_DEPS      := $(LIB)
FUZZ_repl_LIBS      := $(LIB) $(LDLIBS_ALL)
FUZZ_store_load_SRC := $(wildcard src/store/*.c)
FUZZ_store_load_DEPS := $(LIB)
FUZZ_store_load_LIBS := $(LIB) $(LDLIBS_ALL)
FUZZ_TARGETS        := resp raft_msg raft_step peer_frame wal repl \
                       store_load

ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
define FUZZ_RULE
$(BUILD)/tests/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $$(FUZZ_$(1)_SRC) \
        $$(FUZZ_$(1)_DEPS) $$(wildcard src/*/*.h src/*.h tests/fuzz/*.h)
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  FUZZ $$@")
	$$(Q)$$(FUZZ_CC) $$(FUZZ_FLAGS) -o $$@ tests/fuzz/fuzz_$(1).c \
	    $$(FUZZ_$(1)_SRC) $$(FUZZ_$(1)_LIBS)

TEST_BINS += $(BUILD)/tests/fuzz/fuzz_$(1)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))
endif
