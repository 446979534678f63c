# tests/sim: the deterministic simulator and its linearizability checker.
#   make sim SEEDS=N SEED_START=S   run seeds S..S+N-1 and report
# The checker's unit test (tests/unit/sim/test_lincheck.c) links lincheck.o.

SIM_LINCHECK_OBJ := $(BUILD)/tests/sim/lincheck.o

$(BUILD)/tests/unit/sim/test_lincheck: tests/unit/sim/test_lincheck.c $(SIM_LINCHECK_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(SIM_LINCHECK_OBJ) $(LIB) $(TEST_LIBS) $(LDLIBS_ALL)

$(SIM_LINCHECK_OBJ): tests/sim/lincheck.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -c $< -o $@

-include $(SIM_LINCHECK_OBJ:.o=.d)
