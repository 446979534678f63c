# tests/clients: the hiredis client check, run by tests/layers/40-clients.sh.
HIREDIS_CHECK := $(BUILD)/tests/clients/hiredis_check
TEST_BINS += $(HIREDIS_CHECK)

$(HIREDIS_CHECK): tests/clients/hiredis_check.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(shell pkg-config --libs hiredis)
