/* Reply encoding: every element in RESP2 and RESP3 as Redis 7 writes it,
 * error text sanitising, deferred array headers, muting (CLIENT REPLY)
 * and a failing grow hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "resp/resp.h"
#include "resp_grow.h"

static void reset(struct resp_out *o, int proto)
{
    free(o->data);
    memset(o, 0, sizeof(*o));
    o->proto = proto;
    o->grow = test_resp_grow;
}

#define EXPECT(o, s)                                            \
    do {                                                        \
        assert_int_equal((o)->len, strlen(s));                  \
        assert_memory_equal((o)->data, s, strlen(s));           \
    } while (0)

static void test_scalars_in_resp2(void **state)
{
    struct resp_out o = {0};
    reset(&o, 2);
    resp_add_ok(&o);
    resp_add_int(&o, -42);
    resp_add_bulk(&o, "hi", 2);
    resp_add_bulk(&o, "", 0);
    resp_add_null(&o);
    resp_add_null_array(&o);
    resp_add_bool(&o, 1);
    resp_add_double(&o, 1.5);
    EXPECT(&o, "+OK\r\n:-42\r\n$2\r\nhi\r\n$0\r\n\r\n$-1\r\n*-1\r\n:1\r\n$3\r\n1.5\r\n");
    reset(&o, 2);
    resp_add_int(&o, INT64_MIN);
    resp_add_bulk_ll(&o, 1234567);
    EXPECT(&o, ":-9223372036854775808\r\n$7\r\n1234567\r\n");
    reset(&o, 0);
}

static void test_resp3_types(void **state)
{
    struct resp_out o = {0};
    reset(&o, 3);
    resp_add_null(&o);
    resp_add_null_array(&o);
    resp_add_bool(&o, 0);
    resp_add_double(&o, 3.25);
    resp_add_double(&o, 1.0 / 0.0);
    resp_add_map(&o, 2);
    resp_add_set(&o, 3);
    resp_add_verbatim(&o, "abc", 3, "txt");
    EXPECT(&o, "_\r\n_\r\n#f\r\n,3.25\r\n,inf\r\n%2\r\n~3\r\n=7\r\ntxt:abc\r\n");
    reset(&o, 0);
}

static void test_maps_and_sets_degrade_in_resp2(void **state)
{
    struct resp_out o = {0};
    reset(&o, 2);
    resp_add_map(&o, 2);
    resp_add_set(&o, 3);
    resp_add_verbatim(&o, "abc", 3, "txt");
    resp_add_double(&o, -1.0 / 0.0);
    EXPECT(&o, "*4\r\n*3\r\n$3\r\nabc\r\n$4\r\n-inf\r\n");
    reset(&o, 0);
}

static void test_errors_get_err_prefix_and_lose_newlines(void **state)
{
    struct resp_out o = {0};
    reset(&o, 2);
    resp_add_error(&o, "bad\r\nthing");
    resp_add_error(&o, "-WRONGTYPE Operation");
    resp_add_errorf(&o, "n=%d", 5);
    EXPECT(&o, "-ERR bad  thing\r\n-WRONGTYPE Operation\r\n-ERR n=5\r\n");
    assert_int_equal(o.errors, 3);
    reset(&o, 0);
}

static void test_incrbyfloat_formatting_as_redis(void **state)
{
    struct resp_out o = {0};
    reset(&o, 2);
    resp_add_bulk_ldouble(&o, 10.5L);
    resp_add_bulk_ldouble(&o, 3.0L);
    resp_add_bulk_ldouble(&o, -0.0L);
    resp_add_bulk_ldouble(&o, 5.0e3L);
    EXPECT(&o, "$4\r\n10.5\r\n$1\r\n3\r\n$1\r\n0\r\n$4\r\n5000\r\n");
    reset(&o, 0);
}

static void test_deferred_array_header_is_inserted(void **state)
{
    struct resp_out o = {0};
    reset(&o, 2);
    resp_add_int(&o, 1);
    size_t at = resp_defer_len(&o);
    for (int i = 0; i < 12; i++)
        resp_add_bulk(&o, "k", 1);
    resp_set_deferred_array(&o, at, 12);
    assert_memory_equal(o.data, ":1\r\n*12\r\n$1\r\nk\r\n", 16);
    assert_int_equal(o.len, 4 + 5 + 12 * 7);
    reset(&o, 0);
}

static void test_muted_output_drops_replies_but_counts_errors(void **state)
{
    struct resp_out o = {0};
    reset(&o, 2);
    o.muted = 1;
    resp_add_ok(&o);
    resp_add_error(&o, "x");
    assert_int_equal(o.len, 0);
    assert_int_equal(o.errors, 1);
    reset(&o, 0);
}

static int no_grow(struct resp_out *o, size_t need)
{
    return ERR_NOMEM;
}

static void test_failed_grow_marks_the_output_failed(void **state)
{
    char buf[8];
    struct resp_out o = {.data = buf, .cap = sizeof(buf), .proto = 2,
                         .grow = no_grow};
    resp_add_ok(&o);
    resp_add_bulk(&o, "too long", 8);
    assert_int_equal(o.len, 5);
    assert_true(o.failed);
}

static void test_ll_to_str(void **state)
{
    char buf[24];
    assert_int_equal(resp_ll_to_str(buf, 0), 1);
    assert_string_equal(buf, "0");
    resp_ll_to_str(buf, INT64_MAX);
    assert_string_equal(buf, "9223372036854775807");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_in_resp2),
        cmocka_unit_test(test_resp3_types),
        cmocka_unit_test(test_maps_and_sets_degrade_in_resp2),
        cmocka_unit_test(test_errors_get_err_prefix_and_lose_newlines),
        cmocka_unit_test(test_incrbyfloat_formatting_as_redis),
        cmocka_unit_test(test_deferred_array_header_is_inserted),
        cmocka_unit_test(test_muted_output_drops_replies_but_counts_errors),
        cmocka_unit_test(test_failed_grow_marks_the_output_failed),
        cmocka_unit_test(test_ll_to_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
