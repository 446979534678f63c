/* SHA-256 against the FIPS 180-4 examples (and the classic million 'a'),
 * HMAC-SHA256 against RFC 4231 test cases 1-7, incremental hashing split
 * at every offset, and the constant-time MAC comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport/transport_internal.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void assert_sha(const void *data, size_t len, const char *want)
{
    uint8_t md[PEER_SHA256_LEN];
    char got[2 * PEER_SHA256_LEN + 1];
    peer__sha256(data, len, md);
    hex(md, sizeof(md), got);
    assert_string_equal(got, want);
}

static void test_sha256_fips_180_4_examples(void **state)
{
    assert_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
                         "b00361a396177a9cb410ff61f20015ad");
    assert_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
                      "27ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_sha(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039"
                                 "a33ce45964ff2167f6ecedd419db06c1");
    const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    assert_sha(four, strlen(four), "cf5b16a778af8380036ce59e7b049237"
                                   "0b249b11e8f07a51afac45037afee9d1");
}

static void test_sha256_million_a(void **state)
{
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    assert_sha(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
                           "f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_sha256_incremental_equals_one_shot_at_every_split(void **s)
{
    uint8_t data[200], one[PEER_SHA256_LEN], inc[PEER_SHA256_LEN];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof(data); len += 13) {
        peer__sha256(data, len, one);
        for (size_t cut = 0; cut <= len; cut++) {
            struct peer_sha256 st;
            peer__sha256_init(&st);
            peer__sha256_update(&st, data, cut);
            peer__sha256_update(&st, data + cut, len - cut);
            peer__sha256_final(&st, inc);
            assert_memory_equal(one, inc, sizeof(one));
        }
    }
}

struct hmac_case {
    uint8_t key[131];
    size_t keylen;
    const char *data;
    size_t datalen;
    const char *want; /* hex, possibly truncated (case 5) */
};

static void run_hmac(const struct hmac_case *c)
{
    uint8_t mac[PEER_SHA256_LEN];
    char got[2 * PEER_SHA256_LEN + 1];
    peer__hmac_sha256(c->key, c->keylen, c->data, c->datalen, mac);
    hex(mac, sizeof(mac), got);
    assert_memory_equal(got, c->want, strlen(c->want));
}

static void test_hmac_sha256_rfc4231_cases_1_to_7(void **state)
{
    static struct hmac_case c[7];
    memset(c[0].key, 0x0b, 20);
    c[0].keylen = 20;
    c[0].data = "Hi There";
    c[0].want = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
    memcpy(c[1].key, "Jefe", 4);
    c[1].keylen = 4;
    c[1].data = "what do ya want for nothing?";
    c[1].want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    static char dd[50], cd[50];
    memset(dd, 0xdd, 50);
    memset(cd, 0xcd, 50);
    memset(c[2].key, 0xaa, 20);
    c[2].keylen = 20;
    c[2].data = dd;
    c[2].datalen = 50;
    c[2].want = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
    for (int i = 0; i < 25; i++)
        c[3].key[i] = (uint8_t)(i + 1);
    c[3].keylen = 25;
    c[3].data = cd;
    c[3].datalen = 50;
    c[3].want = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
    memset(c[4].key, 0x0c, 20);
    c[4].keylen = 20;
    c[4].data = "Test With Truncation";
    c[4].want = "a3b6167473100ee06e0c796c2955552b";
    memset(c[5].key, 0xaa, 131);
    c[5].keylen = 131;
    c[5].data = "Test Using Larger Than Block-Size Key - Hash Key First";
    c[5].want = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
    memset(c[6].key, 0xaa, 131);
    c[6].keylen = 131;
    c[6].data = "This is a test using a larger than block-size key and a larger "
                "than block-size data. The key needs to be hashed before being "
                "used by the HMAC algorithm.";
    c[6].want = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";
    for (int i = 0; i < 7; i++) {
        if (c[i].datalen == 0)
            c[i].datalen = strlen(c[i].data);
        run_hmac(&c[i]);
    }
}

static void test_mac_equal_detects_any_differing_byte(void **state)
{
    uint8_t a[32], b[32];
    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_true(peer__mac_equal(a, b, 32));
    for (int i = 0; i < 32; i++) {
        b[i] ^= 1;
        assert_false(peer__mac_equal(a, b, 32));
        b[i] ^= 1;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_fips_180_4_examples),
        cmocka_unit_test(test_sha256_million_a),
        cmocka_unit_test(test_sha256_incremental_equals_one_shot_at_every_split),
        cmocka_unit_test(test_hmac_sha256_rfc4231_cases_1_to_7),
        cmocka_unit_test(test_mac_equal_detects_any_differing_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
