# follower-reads yes: a follower serves linearizable reads itself once it
# has applied the read index the leader confirmed (Raft §6.4.1), so a value
# acknowledged by the leader is never read stale on a follower; a follower
# cut off from the leader refuses with -CLUSTERDOWN instead of answering
# from its own, possibly stale, keyspace.

test "a follower reads every acknowledged write at once (no stale read)" {
    cluster_start -overrides {follower-reads yes}
    set l [wait_leader]
    set fs {}
    foreach i $::cl::nodes { if {$i != $l} { lappend fs $i } }
    for {set n 0} {$n < 300} {incr n} {
        set f [lindex $fs [expr {$n % 2}]]
        assert_equal [ncmd $l set fr:k $n] OK
        assert_equal [ncmd $f get fr:k] $n "follower $f read stale at $n"
    }
    # A pipelined burst of reads behind one read index.
    set f [lindex $fs 0]
    assert_equal [ncmd $l mset fr:a 1 fr:b 2] OK
    assert_equal [ncmd $f mget fr:a fr:b fr:k] {1 2 299}
    assert_equal [raft_field $f raft_role] follower
}

test "a follower cut off from the leader answers -CLUSTERDOWN, not stale" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l % 3 + 1}]
    assert_equal [ncmd $l set fr:cut before] OK
    assert_equal [ncmd $f get fr:cut] before
    set others [nodes_except $f]
    partition_isolate $f $others
    # The majority goes on writing; the follower must not serve "before".
    set l2 [wait_leader 10000 $others]
    assert_equal [ncmd $l2 set fr:cut after] OK
    for {set n 0} {$n < 3} {incr n} {
        assert_error "CLUSTERDOWN*" {ncmd_timeout 15000 $f get fr:cut}
    }
    foreach i $::cl::nodes { ncmd $i debug raft-partition }
    wait_leader 15000
    wait_for_condition 100 100 {![catch {ncmd $f get fr:cut} v] && $v eq "after"} \
        "follower $f does not serve the new value after healing"
}
cluster_stop
