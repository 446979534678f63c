/* Key hashing as the Redis Cluster specification: CRC16/XMODEM test
 * vector, slots of known keys (cross-checked against redis-server 7.0
 * CLUSTER KEYSLOT and Python's binascii.crc_hqx), the hash-tag rules, and
 * the slot → group map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster.h"
#include "err.h"

static unsigned slot_of(const char *key)
{
    return cluster_keyslot(key, strlen(key));
}

static void test_crc16_matches_spec_vector_123456789(void **state)
{
    assert_int_equal(cluster_crc16("123456789", 9), 0x31C3);
    assert_int_equal(cluster_crc16("", 0), 0);
}

static void test_keyslot_of_plain_keys_matches_redis(void **state)
{
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of("x"), 16287);
    assert_int_equal(slot_of("123456789"), 12739);
    assert_int_equal(slot_of("hello world"), 15332);
    assert_int_equal(slot_of(""), 0);
}

static void test_hash_tag_hashes_only_the_tag(void **state)
{
    assert_int_equal(slot_of("foo{bar}"), 5061);
    assert_int_equal(slot_of("{user1000}.following"), slot_of("user1000"));
    assert_int_equal(slot_of("{user1000}.followers"), slot_of("user1000"));
    assert_int_equal(slot_of("{user1000}.following"), 3443);
}

static void test_hash_tag_uses_first_open_and_first_close_after_it(void **s)
{
    /* Spec examples: "foo{{bar}}zap" hashes "{bar"; "foo{bar}{zap}" "bar". */
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("foo{{bar}}zap"), 4015);
    assert_int_equal(slot_of("foo{bar}{zap}"), 5061);
    /* A '}' before the first '{' is ignored. */
    assert_int_equal(slot_of("}{a}"), slot_of("a"));
}

static void test_empty_or_unclosed_hash_tag_hashes_whole_key(void **state)
{
    /* Spec: "foo{}{bar}" hashes the whole key ("{}" is empty). */
    assert_int_equal(slot_of("foo{}{bar}"), 8363);
    assert_int_equal(slot_of("{}"), 15257);
    assert_int_equal(slot_of("foo{"), 7673);
    assert_int_equal(slot_of("{"), cluster_crc16("{", 1) & 16383);
}

static void test_keyslot_is_binary_safe(void **state)
{
    const char key[] = {'a', 0, '{', 'b', '}', 0};
    assert_int_equal(cluster_keyslot(key, 6), slot_of("b"));
    assert_true(cluster_keyslot("a\0b", 3) != slot_of("a"));
}

static void test_keys_slot_detects_cross_slot(void **state)
{
    const char *same[] = {"{u}a", "{u}b", "u"};
    size_t same_len[] = {4, 4, 1};
    assert_int_equal(cluster_keys_slot(same, same_len, 3), slot_of("u"));
    const char *cross[] = {"a", "b"};
    size_t cross_len[] = {1, 1};
    assert_int_equal(cluster_keys_slot(cross, cross_len, 2), -1);
    assert_int_equal(cluster_keys_slot(NULL, NULL, 0), -1);
}

static void test_single_group_map_owns_every_slot(void **state)
{
    static struct cluster_slot_map m;
    cluster_map_init_single(&m, 7);
    assert_int_equal(cluster_map_assigned(&m), CLUSTER_SLOTS);
    assert_int_equal(cluster_map_group(&m, 0), 7);
    assert_int_equal(cluster_map_group(&m, 16383), 7);
    assert_int_equal(cluster_map_group(&m, 16384), CLUSTER_NO_GROUP);
}

static void test_map_assign_checks_ranges(void **state)
{
    static struct cluster_slot_map m;
    cluster_map_init(&m);
    assert_int_equal(cluster_map_assigned(&m), 0);
    assert_int_equal(cluster_map_assign(&m, 0, 8191, 1), 0);
    assert_int_equal(cluster_map_assign(&m, 8192, 16383, 2), 0);
    assert_int_equal(cluster_map_assign(&m, 10, 9, 1), ERR_INVALID);
    assert_int_equal(cluster_map_assign(&m, 0, 16384, 1), ERR_INVALID);
    assert_int_equal(cluster_map_group(&m, 8191), 1);
    assert_int_equal(cluster_map_group(&m, 8192), 2);
    assert_int_equal(cluster_map_assigned(&m), CLUSTER_SLOTS);
}

static void test_node_name_is_40_hex_digits_of_the_id(void **state)
{
    char name[CLUSTER_NAMELEN + 1];
    cluster_node_name(1, name);
    assert_string_equal(name, "0000000000000000000000000000000000000001");
    cluster_node_name(UINT64_MAX, name);
    assert_string_equal(name, "000000000000000000000000ffffffffffffffff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_matches_spec_vector_123456789),
        cmocka_unit_test(test_keyslot_of_plain_keys_matches_redis),
        cmocka_unit_test(test_hash_tag_hashes_only_the_tag),
        cmocka_unit_test(test_hash_tag_uses_first_open_and_first_close_after_it),
        cmocka_unit_test(test_empty_or_unclosed_hash_tag_hashes_whole_key),
        cmocka_unit_test(test_keyslot_is_binary_safe),
        cmocka_unit_test(test_keys_slot_detects_cross_slot),
        cmocka_unit_test(test_single_group_map_owns_every_slot),
        cmocka_unit_test(test_map_assign_checks_ranges),
        cmocka_unit_test(test_node_name_is_40_hex_digits_of_the_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
