# WAL test programs: the crash test pair (run by tests/layers/25-wal.sh)
# and the benchmark (make bench-wal; not part of make test).
WAL_TEST_CFLAGS = $(CFLAGS_ALL) -Itests

$(BUILD)/tests/wal/%: tests/wal/%.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(WAL_TEST_CFLAGS) -o $@ $< $(LIB) $(LDLIBS_ALL)

TEST_BINS += $(BUILD)/tests/wal/crash_writer $(BUILD)/tests/wal/crash_test

.PHONY: bench-wal
bench-wal: $(BUILD)/tests/wal/bench_wal
	$(BUILD)/tests/wal/bench_wal $(BENCH_WAL_ARGS)

.PHONY: bench-recover
bench-recover: $(BUILD)/tests/wal/bench_recover
	$(BUILD)/tests/wal/bench_recover $(BENCH_RECOVER_ARGS)
