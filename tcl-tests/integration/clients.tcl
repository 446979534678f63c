# Real clients against the cluster: redis-cli (-c follows -MOVED; without
# it the error is shown), redis-benchmark against the leader, hiredis with a
# redirect-following loop (clients/hiredis_moved.c, built by the layer; path
# in $HIREDIS_MOVED) and redis-py (clients/redis_py_cluster.py: a small
# retry-on-MOVED wrapper; redis-py's own RedisCluster does not handle a
# one-group cluster: it asks CLUSTER SLOTS, which needs cluster_enabled:1).

test "redis-cli -c follows -MOVED from a follower to the leader" {
    cluster_start
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    assert_equal [exec redis-cli -c -h 127.0.0.1 -p [node_port $f] set cli:k v1] OK
    assert_equal [exec redis-cli -h 127.0.0.1 -p [node_port $l] get cli:k] v1
    assert_equal [exec redis-cli -c -h 127.0.0.1 -p [node_port $f] get cli:k] v1
}

test "redis-cli without -c shows the -MOVED error" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    set out [exec redis-cli -h 127.0.0.1 -p [node_port $f] set cli:k v2 2>@1]
    assert_match "*MOVED * [node_addr $l]*" $out
}

test "redis-benchmark SET/GET against the leader completes without errors" {
    need_cluster
    set l [wait_leader]
    set out [exec redis-benchmark -h 127.0.0.1 -p [node_port $l] -t set,get -n 20000 \
        -c 20 -P 8 -r 10000 -q 2>@1]
    assert_match "*SET: *GET: *" [string map {\n " " \r " "} $out]
    assert_no_match "*rror*" $out
    assert_digests_equal
}

test "hiredis follows -MOVED to the leader" {
    need_cluster
    if {![info exists ::env(HIREDIS_MOVED)] || ![file executable $::env(HIREDIS_MOVED)]} {
        error "hiredis_moved not built (set HIREDIS_MOVED)"
    }
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    set out [exec $::env(HIREDIS_MOVED) 127.0.0.1 [node_port $f] 2>@1]
    puts [string trimright $out]
    assert_no_match "*FAIL*" $out
    assert_match "*PASS*" $out
}

test "redis-py follows -MOVED through a retry wrapper" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    set script [file join $::root integration clients redis_py_cluster.py]
    set ::redis_py_out [exec /usr/bin/python3 $script 127.0.0.1 [node_port $f] 2>@1]
    puts [string trimright $::redis_py_out]
    assert_match "*PASS redis_py_moved_wrapper*" $::redis_py_out
    assert_match "*PASS redis_py_pipeline*" $::redis_py_out
}

test "redis-py MULTI/EXEC pipeline on the leader" {
    need_cluster
    assert_match "*PASS redis_py_transaction*" $::redis_py_out
}
cluster_stop
