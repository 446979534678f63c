# Expiry is replicated: followers never expire keys themselves; the leader's
# expiry removes keys with a TTL on every node, and every node ends with
# the same digest.

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
cluster_stop
