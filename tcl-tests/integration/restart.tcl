# Restarts: stopping every node cleanly and starting them again, or killing
# all of them with -9 (raft-fsync always), keeps every acknowledged write
# and the same keyspace digest.

test "clean restart of all nodes: same keyspace digest" {
    cluster_start
    rec_reset
    rec_write 300
    ccall set long:ttl v ex 100000
    ccall incrby restart:ctr 7
    set before [assert_digests_equal]
    foreach i $::cl::nodes { stop_node $i }
    foreach i $::cl::nodes { restart_node $i }
    wait_leader 20000
    set after [assert_digests_equal]
    assert_equal $after $before "digest after restart"
    assert_acked_readable
}

test "kill -9 of every node: every acknowledged write survives" {
    need_cluster
    rec_write 300
    set l [wait_leader]
    rec_write_inflight $l 100 { foreach i $::cl::nodes { kill_node $i } }
    foreach i $::cl::nodes { restart_node $i }
    wait_leader 20000
    assert_acked_readable
    assert_digests_equal
}
cluster_stop
