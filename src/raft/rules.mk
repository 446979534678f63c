# The raft room's extra program: the core microbenchmark (not a test).
#   make bench-raft    build and run it (BENCH_RAFT_ENTRIES=N to resize)
BENCH_RAFT := $(BUILD)/bench_raft
BENCH_RAFT_ENTRIES ?= 4000000

$(BENCH_RAFT): tests/bench/bench_raft.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LDLIBS_ALL)

.PHONY: bench-raft
bench-raft: $(BENCH_RAFT)
	$(BENCH_RAFT) $(BENCH_RAFT_ENTRIES)
