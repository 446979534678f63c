/* Unit tests for hash/hash.c: seeded one-shot hashing agrees with the
 * streaming digest, fields are length-prefixed, integers little-endian. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hash/hash.h"

static void test_one_shot_equals_streaming_in_pieces(void **state)
{
    (void)state;
    const char *s = "the quick brown fox jumps over the lazy dog";
    struct hash_digest d;
    hash_digest_init(&d, 42);
    hash_digest_update(&d, s, 10);
    hash_digest_update(&d, s + 10, 0);
    hash_digest_update(&d, s + 10, strlen(s) - 10);
    assert_true(hash_digest_final(&d) == hash_bytes(s, strlen(s), 42));
    assert_true(hash_bytes(s, strlen(s), 1) != hash_bytes(s, strlen(s), 2));
}

static void test_fields_are_unambiguous(void **state)
{
    (void)state;
    struct hash_digest a, b;
    hash_digest_init(&a, 0);
    hash_digest_field(&a, "ab", 2);
    hash_digest_field(&a, "c", 1);
    hash_digest_init(&b, 0);
    hash_digest_field(&b, "a", 1);
    hash_digest_field(&b, "bc", 2);
    assert_true(hash_digest_final(&a) != hash_digest_final(&b));
}

static void test_u64_is_fed_little_endian(void **state)
{
    (void)state;
    struct hash_digest d;
    const unsigned char le[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    hash_digest_init(&d, 7);
    hash_digest_u64(&d, 0x0807060504030201ull);
    assert_true(hash_digest_final(&d) == hash_bytes(le, 8, 7));
}

static void test_rendezvous_moves_only_slots_the_new_group_wins(void **state)
{
    (void)state;
    enum { SLOTS = 16384 };
    uint64_t groups[5] = {101, 202, 303, 404, 505};
    static long before[SLOTS];
    int per_group[5] = {0};
    assert_int_equal(hash_rendezvous(1, groups, 0, 0), -1);
    for (uint64_t s = 0; s < SLOTS; s++) {
        before[s] = hash_rendezvous(s, groups, 4, 9);
        per_group[before[s]]++;
    }
    for (int g = 0; g < 4; g++)
        assert_true(per_group[g] > SLOTS / 4 * 8 / 10);
    int moved = 0;
    for (uint64_t s = 0; s < SLOTS; s++) {
        long now = hash_rendezvous(s, groups, 5, 9);
        if (now != before[s]) {
            assert_int_equal(now, 4); /* only to the new group */
            moved++;
        }
    }
    assert_true(moved > SLOTS / 5 * 8 / 10 && moved < SLOTS / 5 * 12 / 10);
    /* Removing group 1 (swap the last in): only its slots move. */
    uint64_t fewer[4] = {101, 505, 303, 404};
    for (uint64_t s = 0; s < SLOTS; s++) {
        long was = hash_rendezvous(s, groups, 5, 9);
        long now = hash_rendezvous(s, fewer, 4, 9);
        if (groups[was] != 202)
            assert_true(fewer[now] == groups[was]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_shot_equals_streaming_in_pieces),
        cmocka_unit_test(test_fields_are_unambiguous),
        cmocka_unit_test(test_u64_is_fed_little_endian),
        cmocka_unit_test(test_rendezvous_moves_only_slots_the_new_group_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
