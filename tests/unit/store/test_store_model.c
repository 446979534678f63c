/* A model-based test of the keyspace: long seeded runs of random writes
 * (set with and without expire, KEEPTTL, delete, expire/persist, in-place
 * resize and replace, rename, reserve/publish, flush) against a plain
 * reference array, checking after each operation the key touched and,
 * periodically, every key, the counts and the volatile index. Values of
 * all sizes, from empty to past the largest slab class, cross every
 * relocation path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "store/store.h"

#define NKEYS 300
#define NOW 1700000000000ull

struct ref {
    int present;
    int64_t expire;
    size_t len;
    unsigned char *val;
};

struct model {
    struct store *st;
    struct ref r[NKEYS];
    char names[NKEYS][40];
    uint64_t rng;
};

static uint64_t rnd(struct model *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

/* Mostly small values, some around class edges, a few large. */
static size_t rnd_len(struct model *m)
{
    if (rnd(m) % 100 == 0)
        return 500000 + rnd(m) % 200000;
    switch (rnd(m) % 10) {
    case 0:
    case 1:
        return 0;
    case 2:
    case 3:
        return rnd(m) % 3000;
    default:
        return rnd(m) % 120;
    }
}

static struct store_key key_of(struct model *m, int i)
{
    struct store_key k;
    store_key_init(m->st, &k, m->names[i], strlen(m->names[i]));
    return k;
}

static void ref_set(struct ref *r, const unsigned char *v, size_t len,
                    int64_t expire)
{
    free(r->val);
    r->val = malloc(len + 1);
    memcpy(r->val, v, len);
    r->len = len;
    r->present = 1;
    r->expire = expire;
}

static void fill_value(struct model *m, unsigned char *v, size_t len)
{
    unsigned char b = (unsigned char)rnd(m);
    for (size_t i = 0; i < len; i++)
        v[i] = (unsigned char)(b + i * 31);
}

static void check_key(struct model *m, int i)
{
    struct store_key k = key_of(m, i);
    struct store_entry *e = store_lookup(m->st, &k, STORE_LOOKUP_WRITE, NOW);
    struct ref *r = &m->r[i];
    if (!r->present) {
        assert_null(e);
        return;
    }
    assert_non_null(e);
    assert_int_equal(store_entry_value_len(e), r->len);
    assert_memory_equal(store_entry_value(e), r->val, r->len);
    assert_int_equal(store_entry_expire(e), r->expire);
    assert_int_equal(store_entry_key_len(e), k.len);
    assert_memory_equal(store_entry_key(e), k.ptr, k.len);
}

static void check_all(struct model *m)
{
    uint64_t n = 0, vol = 0;
    for (int i = 0; i < NKEYS; i++) {
        check_key(m, i);
        n += m->r[i].present;
        vol += m->r[i].present && m->r[i].expire != STORE_NO_EXPIRE;
    }
    assert_int_equal(store_count(m->st), n);
    assert_int_equal(store_count_volatile(m->st), vol);
}

static int64_t rnd_expire(struct model *m)
{
    /* All expires lie in the future: this test is about layout, the
     * expiry tests cover time. */
    return rnd(m) % 2 ? STORE_NO_EXPIRE : (int64_t)(NOW + 1 + rnd(m) % 100000);
}

static void op_set(struct model *m, int i, unsigned char *buf)
{
    size_t len = rnd_len(m);
    fill_value(m, buf, len);
    struct store_key k = key_of(m, i);
    int keep = rnd(m) % 4 == 0;
    int64_t exp = rnd_expire(m);
    assert_int_equal(store_set(m->st, &k, buf, len, exp,
                               keep ? STORE_SET_KEEPTTL : 0, NOW, NULL), 0);
    if (keep)
        exp = m->r[i].present ? m->r[i].expire : STORE_NO_EXPIRE;
    ref_set(&m->r[i], buf, len, exp);
}

static void op_publish(struct model *m, int i)
{
    struct store_key k = key_of(m, i);
    struct store_reservation res;
    size_t len = rnd_len(m);
    assert_int_equal(store_reserve(m->st, &k, len, (int)(rnd(m) % 2), &res), 0);
    fill_value(m, (unsigned char *)res.value, len);
    int64_t exp = rnd_expire(m);
    ref_set(&m->r[i], (unsigned char *)res.value, len, exp);
    assert_int_equal(store_publish(m->st, &res, exp, 0, NOW, NULL), 0);
}

static void op_resize(struct model *m, int i, unsigned char *buf)
{
    struct store_key k = key_of(m, i);
    struct store_entry *e = store_lookup_write(m->st, &k, NOW);
    if (e == NULL)
        return;
    struct ref *r = &m->r[i];
    size_t len = rnd(m) % 3 ? r->len + rnd(m) % 200 : rnd_len(m);
    if (rnd(m) % 2) {
        assert_int_equal(store_value_resize(m->st, &e, len), 0);
        size_t keep = r->len < len ? r->len : len;
        memcpy(buf, r->val, keep);
        memset(buf + keep, 'z', len - keep);
        memset(store_entry_value(e) + keep, 'z', len - keep);
    } else {
        fill_value(m, buf, len);
        assert_int_equal(store_value_replace(m->st, &e, buf, len), 0);
    }
    ref_set(r, buf, len, r->expire);
}

static void op_expire(struct model *m, int i)
{
    struct store_key k = key_of(m, i);
    struct store_entry *e = store_lookup_write(m->st, &k, NOW);
    if (e == NULL)
        return;
    int64_t exp = rnd_expire(m);
    if (exp == STORE_NO_EXPIRE) {
        int had = m->r[i].expire != STORE_NO_EXPIRE;
        assert_int_equal(store_entry_persist(m->st, &e), had);
    } else {
        assert_int_equal(store_entry_set_expire(m->st, &e, exp), 0);
    }
    m->r[i].expire = exp;
}

static void op_rename(struct model *m, int i)
{
    int j = (int)(rnd(m) % NKEYS);
    struct store_key a = key_of(m, i), b = key_of(m, j);
    int rv = store_rename(m->st, &a, &b, NOW, NULL);
    if (!m->r[i].present) {
        assert_int_equal(rv, ERR_NOTFOUND);
        return;
    }
    assert_int_equal(rv, 0);
    if (i == j)
        return;
    struct ref tmp = m->r[j];
    m->r[j] = m->r[i];
    m->r[i] = tmp;
    free(m->r[i].val);
    memset(&m->r[i], 0, sizeof(m->r[i]));
    check_key(m, j);
}

static void op_delete(struct model *m, int i)
{
    struct store_key k = key_of(m, i);
    assert_int_equal(store_delete(m->st, &k, NOW), m->r[i].present);
    free(m->r[i].val);
    memset(&m->r[i], 0, sizeof(m->r[i]));
}

static void run_model(uint64_t seed, double growth, long steps)
{
    struct model m;
    struct store_config c = {.seed = seed, .slab_growth_factor = growth};
    unsigned char *buf = malloc(1 << 21);
    memset(&m, 0, sizeof(m));
    m.rng = seed * 2654435761u + 1;
    assert_int_equal(store_create(&m.st, &c), 0);
    for (int i = 0; i < NKEYS; i++)
        snprintf(m.names[i], sizeof(m.names[i]),
                 i % 7 == 0 ? "long-key-name-%d-padding-padding" : "k%d", i);
    for (long s = 0; s < steps; s++) {
        int i = (int)(rnd(&m) % NKEYS);
        unsigned op = (unsigned)(rnd(&m) % 100);
        if (op < 35)
            op_set(&m, i, buf);
        else if (op < 45)
            op_publish(&m, i);
        else if (op < 60)
            op_resize(&m, i, buf);
        else if (op < 75)
            op_expire(&m, i);
        else if (op < 85)
            op_rename(&m, i);
        else if (op < 99)
            op_delete(&m, i);
        else if (rnd(&m) % 20 == 0) {
            store_flush(m.st);
            for (int j = 0; j < NKEYS; j++) {
                free(m.r[j].val);
                memset(&m.r[j], 0, sizeof(m.r[j]));
            }
        }
        check_key(&m, i);
        if (s % 2999 == 0) {
            check_all(&m);
            store_rehash_steps(m.st, 10);
        }
    }
    check_all(&m);
    /* Everything is volatile-index consistent: at a time past every
     * expire, one cycle per key removes exactly the volatile keys. */
    uint64_t vol = store_count_volatile(m.st), total = store_count(m.st);
    size_t n = 0;
    for (int r = 0; r < 100 && store_count_volatile(m.st) > 0; r++)
        n += store_expire_cycle(m.st, NOW + 200000, 1000, STORE_REAP_DELETE,
                                NULL, NULL);
    assert_int_equal(n, vol);
    assert_int_equal(store_count(m.st), total - vol);
    store_destroy(m.st);
    for (int i = 0; i < NKEYS; i++)
        free(m.r[i].val);
    free(buf);
}

static void test_random_writes_match_the_reference_default_classes(void **state)
{
    (void)state;
    run_model(1, 0, 30000);
    run_model(2, 0, 30000);
}

static void test_random_writes_match_the_reference_coarse_classes(void **state)
{
    (void)state;
    run_model(3, 2.0, 30000);
}

static void test_random_writes_match_the_reference_fine_classes(void **state)
{
    (void)state;
    run_model(4, 1.05, 30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_writes_match_the_reference_default_classes),
        cmocka_unit_test(test_random_writes_match_the_reference_coarse_classes),
        cmocka_unit_test(test_random_writes_match_the_reference_fine_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
