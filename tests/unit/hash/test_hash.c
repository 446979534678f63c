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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_shot_equals_streaming_in_pieces),
        cmocka_unit_test(test_fields_are_unambiguous),
        cmocka_unit_test(test_u64_is_fed_little_endian),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
