# libFuzzer target for the RESP parser, built with clang when it is
# installed (-fsanitize=fuzzer,address). It compiles the parser sources
# itself so they carry the fuzzer's coverage instrumentation.
#   $(BUILD)/tests/fuzz/fuzz_resp -max_total_time=60 CORPUS_DIR
# tests/layers/50-fuzz.sh runs it for a bounded time under FULL=1.
FUZZ_CC  ?= clang
FUZZ_RESP := $(BUILD)/tests/fuzz/fuzz_resp
FUZZ_RESP_SRC := tests/fuzz/fuzz_resp.c src/resp/resp_parse.c

ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
$(FUZZ_RESP): $(FUZZ_RESP_SRC) src/resp/resp.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ $@")
	$(Q)$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -Isrc \
	    -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_RESP_SRC)

TEST_BINS += $(FUZZ_RESP)
endif
