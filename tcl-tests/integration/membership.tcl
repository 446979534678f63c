# Membership under load (redis-benchmark SETs to the leader, restarted on
# the new leader after a transfer, plus recorded writes): a fresh fourth node joins with
# RAFT.CLUSTER JOIN, a follower is removed with RAFT.NODE REMOVE, and
# leadership moves with RAFT.TRANSFER-LEADER; no acknowledged write is lost
# and the members end with equal digests.

test "a fresh node joins under load with RAFT.CLUSTER JOIN" {
    cluster_start
    set l [wait_leader]
    set ::membership_bench [bench_start $l 40]
    rec_reset
    rec_write 100
    cluster_add_fresh_node 4
    if {[catch {ncmd_timeout 60000 4 raft.cluster join [node_addr $l]} r] || $r ne "OK"} {
        # Leave the three members alone for the tests that follow.
        stop_node 4
        set ::cl::nodes [lsearch -all -inline -not -exact $::cl::nodes 4]
        error "RAFT.CLUSTER JOIN replied: $r"
    }
    rec_write 100
    wait_leader
    foreach i $::cl::nodes { assert_equal [raft_field $i raft_num_voters] 4 "node $i" }
    assert_digests_equal
    assert_acked_on_node 4
}

test "a follower is removed under load with RAFT.NODE REMOVE" {
    need_cluster
    set l [wait_leader]
    set victim ""
    foreach i $::cl::nodes { if {$i != $l && $i != 4} { set victim $i } }
    set voters [raft_field $l raft_num_voters]
    set id [node_id $victim]
    assert_equal [ncmd_timeout 20000 $l raft.node remove $id] OK
    stop_node $victim
    set ::cl::nodes [lsearch -all -inline -not -exact $::cl::nodes $victim]
    rec_write 100
    wait_leader
    foreach i $::cl::nodes {
        assert_equal [raft_field $i raft_num_voters] [expr {$voters - 1}] "node $i"
    }
    assert_acked_readable
    assert_digests_equal
}

test "leadership moves under load with RAFT.TRANSFER-LEADER <id>" {
    need_cluster
    set l [wait_leader]
    set t ""
    foreach i $::cl::nodes { if {$i != $l} { set t $i } }
    rec_write 50
    assert_equal [ncmd_timeout 20000 $l raft.transfer-leader [node_id $t]] OK
    assert_equal [wait_leader] $t
    bench_stop $::membership_bench
    set ::membership_bench [bench_start $t 40]
    rec_write 50
    assert_acked_readable
}

test "RAFT.TRANSFER-LEADER without an id hands leadership to another voter" {
    need_cluster
    set l [wait_leader]
    assert_equal [ncmd_timeout 20000 $l raft.transfer-leader] OK
    set nl [wait_leader]
    assert {$nl != $l} "(leader still node $l)"
    rec_write 50
    if {[info exists ::membership_bench]} { bench_stop $::membership_bench }
    assert_acked_readable
    assert_digests_equal
}
cluster_stop
