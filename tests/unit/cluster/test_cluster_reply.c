/* Redirection texts and CLUSTER replies. The expected bytes of INFO, NODES,
 * SLOTS and SHARDS were captured from redis-server 7.0.15 (one node owning
 * all slots, RESP2 and RESP3); a small encoder here turns our neutral reply
 * tree into RESP so the two can be compared byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster.h"

#define ID1 "c289ce4497baa34b50f1f191d622fef20370b794"
#define ID2 "1111111111111111111111111111111111111111"
#define ID3 "2222222222222222222222222222222222222222"

struct out {
    char buf[8192];
    size_t len;
};

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(o->buf) - o->len);
    o->len += (size_t)n;
}

/* RESP encoding of a reply tree, as the RESP writer will do it. */
static void encode(struct out *o, const struct cluster_reply *r, int resp3)
{
    switch (r->type) {
    case CLUSTER_REPLY_INT:
        put(o, ":%lld\r\n", r->integer);
        break;
    case CLUSTER_REPLY_BULK:
        put(o, "$%zu\r\n%s\r\n", r->len, r->str);
        break;
    case CLUSTER_REPLY_VERBATIM:
        if (resp3)
            put(o, "=%zu\r\ntxt:%s\r\n", r->len + 4, r->str);
        else
            put(o, "$%zu\r\n%s\r\n", r->len, r->str);
        break;
    case CLUSTER_REPLY_ARRAY:
        put(o, "*%zu\r\n", r->n);
        for (size_t i = 0; i < r->n; i++)
            encode(o, &r->elems[i], resp3);
        break;
    case CLUSTER_REPLY_MAP:
        put(o, resp3 ? "%%%zu\r\n" : "*%zu\r\n", resp3 ? r->n : 2 * r->n);
        for (size_t i = 0; i < 2 * r->n; i++)
            encode(o, &r->elems[i], resp3);
        break;
    }
}

static void assert_resp(struct cluster_reply *r, int resp3, const char *want)
{
    struct out o = {.len = 0};
    encode(&o, r, resp3);
    assert_string_equal(o.buf, want);
    cluster_reply_free(r);
}

static struct cluster_slot_map single_map;
static struct cluster_node single_node = {
    .id = ID1, .host = "", .port = 23000, .bus_port = 33000,
    .role = CLUSTER_ROLE_PRIMARY, .myself = true, .link_connected = true,
};

static struct cluster_view single_view(void)
{
    cluster_map_init_single(&single_map, 0);
    struct cluster_view v = {.map = &single_map, .nodes = &single_node,
                             .nnodes = 1, .state_ok = true};
    return v;
}

static void test_moved_and_ask_texts_match_redis(void **state)
{
    char buf[128];
    int n = cluster_format_redirect(buf, sizeof(buf), CLUSTER_REDIR_MOVED,
                                    3999, "127.0.0.1", 6381);
    assert_string_equal(buf, "MOVED 3999 127.0.0.1:6381");
    assert_int_equal(n, strlen(buf));
    cluster_format_redirect(buf, sizeof(buf), CLUSTER_REDIR_ASK, 3999,
                            "127.0.0.1", 6381);
    assert_string_equal(buf, "ASK 3999 127.0.0.1:6381");
}

static void test_crossslot_and_clusterdown_texts_match_redis(void **state)
{
    char buf[128];
    cluster_format_redirect(buf, sizeof(buf), CLUSTER_REDIR_CROSS_SLOT, 0,
                            NULL, 0);
    assert_string_equal(buf,
                        "CROSSSLOT Keys in request don't hash to the same slot");
    cluster_format_redirect(buf, sizeof(buf), CLUSTER_REDIR_DOWN_STATE, 0,
                            NULL, 0);
    assert_string_equal(buf, "CLUSTERDOWN The cluster is down");
    cluster_format_redirect(buf, sizeof(buf), CLUSTER_REDIR_DOWN_UNBOUND, 0,
                            NULL, 0);
    assert_string_equal(buf, "CLUSTERDOWN Hash slot not served");
    cluster_format_redirect(buf, sizeof(buf), CLUSTER_REDIR_DOWN_RO_STATE, 0,
                            NULL, 0);
    assert_string_equal(
        buf, "CLUSTERDOWN The cluster is down and only accepts read commands");
    assert_int_equal(cluster_format_redirect(buf, sizeof(buf),
                                             CLUSTER_REDIR_NONE, 0, NULL, 0),
                     -1);
}

static void test_redirect_text_is_cut_safely_in_small_buffer(void **state)
{
    char buf[8];
    int n = cluster_format_redirect(buf, sizeof(buf), CLUSTER_REDIR_MOVED, 1,
                                    "10.0.0.1", 7000);
    assert_int_equal(n, strlen("MOVED 1 10.0.0.1:7000"));
    assert_string_equal(buf, "MOVED 1");
}

static void test_keyslot_and_myid_replies(void **state)
{
    struct cluster_view v = single_view();
    assert_resp(cluster_reply_keyslot("x", 1), 0, ":16287\r\n");
    assert_resp(cluster_reply_myid(&v), 0, "$40\r\n" ID1 "\r\n");
}

static void test_cluster_info_matches_redis_single_node(void **state)
{
    struct cluster_view v = single_view();
    const char *text =
        "cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"
        "cluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\n"
        "cluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\n"
        "cluster_current_epoch:0\r\ncluster_my_epoch:0\r\n"
        "cluster_stats_messages_sent:0\r\n"
        "cluster_stats_messages_received:0\r\n"
        "total_cluster_links_buffer_limit_exceeded:0\r\n";
    char want[1024];
    snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(text), text);
    assert_resp(cluster_reply_info(&v), 0, want);
    snprintf(want, sizeof(want), "=%zu\r\ntxt:%s\r\n", strlen(text) + 4, text);
    assert_resp(cluster_reply_info(&v), 1, want);
}

static void test_cluster_nodes_matches_redis_single_node(void **state)
{
    struct cluster_view v = single_view();
    assert_resp(cluster_reply_nodes(&v), 1,
                "=98\r\ntxt:" ID1 " :23000@33000 myself,master - 0 0 0 "
                "connected 0-16383\n\r\n");
}

static void test_cluster_slots_matches_redis_single_node(void **state)
{
    struct cluster_view v = single_view();
    assert_resp(cluster_reply_slots(&v), 0,
                "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$0\r\n\r\n:23000\r\n$40\r\n"
                ID1 "\r\n*0\r\n");
    assert_resp(cluster_reply_slots(&v), 1,
                "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$0\r\n\r\n:23000\r\n$40\r\n"
                ID1 "\r\n%0\r\n");
}

static void test_cluster_shards_matches_redis_single_node(void **state)
{
    struct cluster_view v = single_view();
    const char *node2 =
        "$2\r\nid\r\n$40\r\n" ID1 "\r\n$4\r\nport\r\n:23000\r\n$2\r\nip\r\n"
        "$0\r\n\r\n$8\r\nendpoint\r\n$0\r\n\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
        "$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";
    char want[2048];
    snprintf(want, sizeof(want),
             "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n"
             "*1\r\n*14\r\n%s", node2);
    assert_resp(cluster_reply_shards(&v), 0, want);
    snprintf(want, sizeof(want),
             "*1\r\n%%2\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes"
             "\r\n*1\r\n%%7\r\n%s", node2);
    assert_resp(cluster_reply_shards(&v), 1, want);
}

/* A 3-node group: the leader is the master, followers are its replicas;
 * a node whose bus link is down shows "disconnected". */
static void test_cluster_nodes_of_three_node_group(void **state)
{
    static struct cluster_slot_map m;
    cluster_map_init_single(&m, 0);
    struct cluster_node nodes[3] = {
        {.id = ID1, .host = "127.0.0.1", .port = 7001, .bus_port = 17001,
         .role = CLUSTER_ROLE_REPLICA, .myself = true, .config_epoch = 3},
        {.id = ID2, .host = "127.0.0.1", .port = 7002, .bus_port = 17002,
         .role = CLUSTER_ROLE_PRIMARY, .link_connected = true,
         .config_epoch = 3, .pong_recv_ms = 1700000000123},
        {.id = ID3, .host = "127.0.0.1", .port = 7003, .bus_port = 17003,
         .role = CLUSTER_ROLE_REPLICA, .link_connected = false,
         .config_epoch = 3},
    };
    struct cluster_view v = {.map = &m, .nodes = nodes, .nnodes = 3,
                             .state_ok = true};
    size_t len;
    char *text = cluster_nodes_text(&v, &len);
    assert_string_equal(
        text,
        ID1 " 127.0.0.1:7001@17001 myself,slave " ID2 " 0 0 3 connected\n"
        ID2 " 127.0.0.1:7002@17002 master - 0 1700000000123 3 connected "
        "0-16383\n"
        ID3 " 127.0.0.1:7003@17003 slave " ID2 " 0 0 3 disconnected\n");
    assert_int_equal(len, strlen(text));
    free(text);

    struct cluster_reply *slots = cluster_reply_slots(&v);
    assert_int_equal(slots->n, 1);
    assert_int_equal(slots->elems[0].n, 5); /* start, end, master, 2 reps */
    assert_string_equal(slots->elems[0].elems[2].elems[2].str, ID2);
    assert_int_equal(slots->elems[0].elems[3].elems[1].integer, 7001);
    cluster_reply_free(slots);
}

static void test_split_slots_are_listed_as_ranges(void **state)
{
    static struct cluster_slot_map m;
    cluster_map_init(&m);
    cluster_map_assign(&m, 0, 99, 0);
    cluster_map_assign(&m, 5000, 5000, 0);
    struct cluster_node n = {.id = ID1, .host = "h", .port = 1,
                             .bus_port = 2, .myself = true};
    struct cluster_view v = {.map = &m, .nodes = &n, .nnodes = 1};
    size_t len;
    char *text = cluster_nodes_text(&v, &len);
    assert_string_equal(text, ID1 " h:1@2 myself,master - 0 0 0 connected "
                              "0-99 5000\n");
    free(text);
    struct cluster_reply *info = cluster_reply_info(&v);
    assert_non_null(strstr(info->str, "cluster_state:fail\r\n"));
    assert_non_null(strstr(info->str, "cluster_slots_assigned:101\r\n"));
    cluster_reply_free(info);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moved_and_ask_texts_match_redis),
        cmocka_unit_test(test_crossslot_and_clusterdown_texts_match_redis),
        cmocka_unit_test(test_redirect_text_is_cut_safely_in_small_buffer),
        cmocka_unit_test(test_keyslot_and_myid_replies),
        cmocka_unit_test(test_cluster_info_matches_redis_single_node),
        cmocka_unit_test(test_cluster_nodes_matches_redis_single_node),
        cmocka_unit_test(test_cluster_slots_matches_redis_single_node),
        cmocka_unit_test(test_cluster_shards_matches_redis_single_node),
        cmocka_unit_test(test_cluster_nodes_of_three_node_group),
        cmocka_unit_test(test_split_slots_are_listed_as_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
