# tests/sim: the deterministic simulator and its linearizability checker.
#
#   make sim SEEDS=N SEED_START=S   run seeds S..S+N-1 (any 64-bit start)
#   make sim-bugs                   build one simulator per injected bug
#
# $(BUILD)/sim links the real core from libraftcache.a. Each
# $(BUILD)/sim-bug-<SWITCH> links a copy of src/raft/*.c compiled with
# -DRAFT_BUG_<SWITCH>, so tests/layers/20-sim.sh can show that the checks
# catch that bug. The checker's unit test links lincheck.o.

SIM_SRC := $(wildcard tests/sim/*.c)
SIM_OBJ := $(SIM_SRC:%.c=$(BUILD)/%.o)
SIM_LINCHECK_OBJ := $(BUILD)/tests/sim/lincheck.o
SIM := $(BUILD)/sim
SIM_BUGS := COMMIT_OLD_TERM VOTE_NO_LOG_CHECK LEASE_NO_CHECKQUORUM APPLY_BEFORE_PERSIST
SIM_BUG_BINS := $(SIM_BUGS:%=$(BUILD)/sim-bug-%)
SIM_RAFT_SRC := $(wildcard src/raft/*.c)
SEEDS ?= 200
SEED_START ?= 1

TEST_BINS += $(SIM) $(SIM_BUG_BINS)

.PHONY: sim sim-bugs
sim: $(SIM)
	$(SIM) --quiet --seeds $(SEEDS) --seed $(SEED_START)

sim-bugs: $(SIM_BUG_BINS)

$(BUILD)/tests/sim/%.o: tests/sim/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -c $< -o $@

$(SIM): $(SIM_OBJ) $(LIB)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $(SIM_OBJ) $(LIB) $(LDLIBS_ALL)

$(BUILD)/tests/unit/sim/test_lincheck: tests/unit/sim/test_lincheck.c $(SIM_LINCHECK_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(SIM_LINCHECK_OBJ) $(LIB) $(TEST_LIBS) $(LDLIBS_ALL)

define SIM_BUG_RULES
$(BUILD)/sim-bug/$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  CC $$< [RAFT_BUG_$(1)]")
	$$(Q)$$(CC) $$(CFLAGS_ALL) -DRAFT_BUG_$(1) -c $$< -o $$@

$(BUILD)/sim-bug-$(1): $(SIM_OBJ) $(SIM_RAFT_SRC:%.c=$(BUILD)/sim-bug/$(1)/%.o) $(LIB)
	@$$(if $$(Q),echo "  LD $$@")
	$$(Q)$$(CC) -o $$@ $$^ $$(LDLIBS_ALL)

-include $(SIM_RAFT_SRC:%.c=$(BUILD)/sim-bug/$(1)/%.d)
endef
$(foreach b,$(SIM_BUGS),$(eval $(call SIM_BUG_RULES,$(b))))

-include $(SIM_OBJ:.o=.d)
