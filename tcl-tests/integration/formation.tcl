# Cluster formation: three nodes with static peers elect one leader and
# agree on it; INFO raft and RAFT.INFO carry the contract's fields; a
# follower answers writes and linearizable reads with -MOVED to the leader,
# in request order; fresh nodes form a group with RAFT.CLUSTER INIT/JOIN (a
# join to an address that refuses fails at once and leaves the node fresh);
# DEBUG RAFT-PARTITION is refused unless enable-debug-command allows it.

test "static peers: three nodes form one group with one agreed leader" {
    cluster_start
    set l [wait_leader]
    set ids {}
    foreach i $::cl::nodes {
        assert_equal [raft_field $i raft_num_voters] 3 "node $i voters"
        assert_equal [raft_field $i raft_leader_addr] [node_addr $l] "node $i leader address"
        lappend ids [node_id $i]
    }
    assert_equal [llength [lsort -unique $ids]] 3 "node ids $ids"
    foreach i $::cl::nodes {
        if {$i != $l} { assert_equal [raft_field $i raft_role] follower }
    }
}

test "INFO raft and RAFT.INFO carry every contract field" {
    need_cluster
    set l [wait_leader]
    set info [ncmd $l info raft]
    foreach f {raft_node_id raft_role raft_leader_id raft_leader_addr raft_term
               raft_commit_index raft_applied_index raft_last_index raft_snapshot_index
               raft_num_nodes raft_num_voters raft_fsyncs raft_batches raft_entries
               raft_avg_batch_entries raft_write_timeouts} {
        assert {[info_field $info $f] ne ""} "(INFO raft lacks $f)"
    }
    set peers [regexp -all -inline -line {^raft_peer[0-9]+:.*$} $info]
    assert_equal [llength $peers] 2 "peer lines: $peers"
    foreach p $peers { assert_match "*id=*addr=127.0.0.1:*role=voter*match=*lag=*connected=1*" $p }
    assert_match "*raft_role:leader*" [ncmd $l raft.info]
}

test "INFO cluster reports cluster_enabled:1 (CLUSTER SLOTS names the leader)" {
    need_cluster
    assert_equal [info_field [ncmd 1 info cluster] cluster_enabled] 1
}

test "a follower answers writes and linearizable reads with -MOVED <slot> <leader>" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    # CLUSTER KEYSLOT foo = 12182, bar = 5061 (CRC16 mod 16384).
    assert_error "MOVED 12182 [node_addr $l]" { ncmd $f set foo bar }
    assert_error "MOVED 5061 [node_addr $l]" { ncmd $f get bar }
    assert_equal [ncmd $l set foo bar] OK
}

test "replies stay in request order across -MOVED on one connection" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    set c [redis_client 127.0.0.1 [node_port $f]]
    $c deferred 1
    $c ping
    $c set foo x
    $c echo one
    $c get foo
    $c echo two
    set out {}
    for {set k 0} {$k < 5} {incr k} {
        if {[catch {$c read} r]} { set r "ERR:[lindex $r 0]" }
        lappend out $r
    }
    $c close
    assert_equal $out {PONG ERR:MOVED one ERR:MOVED two}
}
cluster_stop

test "RAFT.CLUSTER INIT and JOIN: fresh nodes form a group of three" {
    cluster_start -peers none
    # A fresh node is a one-member group that serves at once.
    foreach i $::cl::nodes {
        wait_for_condition 100 50 {[raft_field $i raft_role] eq "leader"} "fresh node $i never led"
    }
    assert_equal [ncmd 1 set solo:1 v] OK
    assert_equal [ncmd 1 raft.cluster init] OK
    assert_equal [ncmd 1 raft.cluster init] OK
    assert_equal [ncmd_timeout 60000 2 raft.cluster join [node_addr 1]] OK
    # A join to an address nobody listens on fails at once; the node stays fresh.
    set p [::cl::free_port_pair]
    assert_error "ERR cannot reach 127.0.0.1:$p: Connection refused" {
        ncmd_timeout 10000 3 raft.cluster join 127.0.0.1:$p
    }
    assert_equal [ncmd_timeout 60000 3 raft.cluster join [node_addr 1]] OK
    set l [wait_leader]
    foreach i $::cl::nodes { assert_equal [raft_field $i raft_num_voters] 3 "node $i" }
    assert_equal [ccall set joined yes] OK
    assert_digests_equal
    set c [stale_client 3]
    assert_equal [$c get joined] yes
    assert_equal [$c get solo:1] v
    $c close
}

test "RAFT.CLUSTER JOIN on a node that is already a member is refused with -ERR" {
    need_cluster
    assert_equal [raft_field 2 raft_num_voters] 3 "node 2 never joined"
    assert_error "ERR*" { ncmd_timeout 20000 2 raft.cluster join [node_addr 1] }
}
cluster_stop

test "DEBUG RAFT-PARTITION is refused unless enable-debug-command allows it" {
    cluster_start -n 1 -peers none -overrides {enable-debug-command no}
    set msg "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
    assert_error "ERR $msg" { ncmd 1 debug raft-partition 2 }
}
cluster_stop
