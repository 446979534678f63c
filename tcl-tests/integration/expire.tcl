# Expiry is replicated: followers never expire keys themselves (one cut off
# from the leader keeps its keyspace, hiding expired keys from reads); the
# leader's expiry removes keys with a TTL on every node, and every node ends
# with the same digest.

test "keys with a TTL disappear on every node and digests stay equal" {
    cluster_start
    for {set k 0} {$k < 50} {incr k} {
        ccall set ttl:$k v px 1500
        ccall set keep:$k v
    }
    ccall set later v
    ccall pexpire later 1500
    wait_converged
    foreach i $::cl::nodes {
        set c [stale_client $i]
        assert_equal [$c exists ttl:0 ttl:49 keep:0 later] 4 "node $i before expiry"
        $c close
    }
    after 1600
    foreach i $::cl::nodes {
        set c [stale_client $i]
        assert_equal [$c get ttl:7] {} "node $i serves an expired key"
        wait_for_condition 100 100 {[$c dbsize] == 50} "node $i still holds expired keys ([$c dbsize] keys)"
        $c close
    }
    assert_digests_equal
}

test "a follower cut off from the leader does not expire keys on its own" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l % 3 + 1}]
    ccall set cut:ttl v px 800
    wait_converged
    set idx [raft_field $f raft_applied_index]
    set before [ncmd $f debug digest]
    set others [nodes_except $f]
    partition_isolate $f $others
    after 1500
    set c [stale_client $f]
    set hidden [$c get cut:ttl]
    $c close
    set after [ncmd $f debug digest]
    set idx2 [raft_field $f raft_applied_index]
    foreach i $::cl::nodes { ncmd $i debug raft-partition }
    assert_equal $hidden {} "a logically expired key is served"
    assert_equal $idx2 $idx "applied index moved while cut off"
    assert_equal $after $before "the follower changed its keyspace on its own"
    wait_leader 15000
    assert_digests_equal
    set c [stale_client $f]
    wait_for_condition 50 100 {[$c exists cut:ttl] == 0} "expired key still on node $f"
    $c close
}
cluster_stop
