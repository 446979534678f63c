# The store's memory benchmark: loads 1,000,000 keys as redis-benchmark
# names them (key:%012d, 64-byte values) and prints the store's accounting
# and the RSS growth. Built by `make test`, run by hand (not a timed test):
#   $(BUILD)/tests/unit/store/bench_store_memory [keys] [value-bytes]
STORE_BENCH := $(BUILD)/tests/unit/store/bench_store_memory

$(STORE_BENCH): tests/unit/store/bench_store_memory.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(LIB) $(LDLIBS_ALL)

TEST_BINS += $(STORE_BENCH)
