# Membership under load (redis-benchmark SETs to the leader, restarted on
# the new leader after a transfer, plus recorded writes): a fresh node joins
# with RAFT.CLUSTER JOIN, another is added with RAFT.NODE ADD on the leader
# while recorded writes go on, a follower and later the leader itself are
# removed with RAFT.NODE REMOVE, and leadership moves with
# RAFT.TRANSFER-LEADER; no acknowledged write is lost and the members end
# with equal digests. The leader never waits for the node it adds: while
# RAFT.NODE ADD to a node that never answers is pending, PING and GET on
# the leader stay fast, and the command fails with a clear error at its
# deadline. A transfer to a node cut off from the leader fails with an
# error after two election timeouts. A node that fails to join is stopped
# and left out, so each step is judged on its own.

# The background load: restarted on the current leader at the start of
# each step, stopped before digests are compared (they need quiet nodes).
proc load_restart {} {
    load_stop
    set ::membership_bench [bench_start [wait_leader] 40]
}
proc load_stop {} {
    if {[info exists ::membership_bench]} { bench_stop $::membership_bench; unset ::membership_bench }
}

test "a fresh node joins under load with RAFT.CLUSTER JOIN" {
    cluster_start
    set l [wait_leader]
    load_restart
    rec_reset
    rec_write 100
    cluster_add_fresh_node 4
    as_new_member 4 {
        assert_equal [ncmd_timeout 60000 4 raft.cluster join [node_addr $l]] OK
        rec_write 100
        wait_leader
        foreach i $::cl::nodes { assert_equal [raft_field $i raft_num_voters] 4 "node $i" }
        load_stop
        assert_digests_equal
        assert_acked_on_node 4
    }
}

# Sends CMD on a connection of its own without reading the reply; returns
# the handle, for [$h read] later.
proc send_deferred {i args} {
    set h [redis_client 127.0.0.1 [node_port $i]]
    $h deferred 1
    $h {*}$args
    return $h
}

# The reply to a deferred command (errors as "ERR:<text>"), read with a
# timeout of MS; the handle is closed.
proc read_deferred {h ms} {
    set saved $::rc::timeout_ms
    set ::rc::timeout_ms $ms
    if {[catch {$h read} r]} { set r "ERR:$r" }
    set ::rc::timeout_ms $saved
    $h close
    return $r
}

test "a fresh node added under load with RAFT.NODE ADD on the leader becomes a voter" {
    need_cluster
    load_restart
    set l [wait_leader]
    set voters [raft_field $l raft_num_voters]
    cluster_add_fresh_node 5
    as_new_member 5 {
        # The leader keeps acknowledging writes while the node comes in.
        set h [send_deferred $l raft.node add [node_addr 5]]
        rec_write 100
        set r [read_deferred $h 60000]
        assert {[string is integer -strict $r]} "(RAFT.NODE ADD replied '$r')"
        # The reply comes once the node is a voter of a committed configuration.
        assert_equal [raft_field $l raft_num_voters] [expr {$voters + 1}] "voters on the leader at the reply"
        wait_for_condition 100 100 {[node_id 5] == $r && [raft_field 5 raft_num_voters] == $voters + 1} \
            "node 5 does not see itself as voter $r ([cluster_roles])"
        rec_write 100
        load_stop
        assert_digests_equal
        assert_acked_on_node 5
        assert_acked_readable
    }
}

test "the leader keeps serving while RAFT.NODE ADD waits for a node that never answers" {
    need_cluster
    set l [wait_leader]
    set nodes [raft_field $l raft_num_nodes]
    # A port that accepts connections and never replies.
    set ::silent_chans {}
    set srv [socket -server {apply {{chan addr port} { lappend ::silent_chans $chan }}} -myaddr 127.0.0.1 0]
    set port [lindex [fconfigure $srv -sockname] 2]
    assert_equal [ncmd $l set memb:probe v] OK
    set t0 [clock milliseconds]
    set h [send_deferred $l raft.node add 127.0.0.1:$port]
    set c [redis_client 127.0.0.1 [node_port $l]]
    set worst 0
    set rounds 0
    # About 4 s of PING and GET on the leader while the call is pending.
    while {[clock milliseconds] - $t0 < 4000 && $rounds < 200} {
        set a [clock milliseconds]
        assert_equal [$c ping] PONG
        assert_equal [$c get memb:probe] v
        set worst [expr {max($worst, [clock milliseconds] - $a)}]
        incr rounds
        after 50
    }
    $c close
    puts "    $rounds PING+GET rounds while the add was pending, slowest $worst ms"
    assert {$worst < 1000} "(PING+GET took $worst ms while RAFT.NODE ADD was pending)"
    set r [read_deferred $h 15000]
    set took [expr {[clock milliseconds] - $t0}]
    close $srv
    foreach ch $::silent_chans { catch {close $ch} }
    assert_equal $r "ERR:ERR node 127.0.0.1:$port did not join: no reply within 5000 ms"
    assert {$took >= 4500 && $took < 12000} "(the error came after $took ms)"
    # The learner that never joined left the configuration again.
    wait_for_condition 50 100 {[raft_field $l raft_num_nodes] == $nodes} \
        "the learner stayed ([raft_field $l raft_num_nodes] nodes, was $nodes)"
}

test "RAFT.NODE ADD of nodes that refuse the connection fails soon with -ERR, also two at once" {
    need_cluster
    set l [wait_leader]
    set nodes [raft_field $l raft_num_nodes]
    set p1 [::cl::free_port_pair]
    set p2 [::cl::free_port_pair]
    set t0 [clock milliseconds]
    # The second waits for the first's configuration changes (one at a
    # time, Raft 4.1) instead of failing as busy.
    set h1 [send_deferred $l raft.node add 127.0.0.1:$p1]
    set h2 [send_deferred $l raft.node add 127.0.0.1:$p2]
    assert_equal [read_deferred $h1 15000] "ERR:ERR node 127.0.0.1:$p1 did not join: Connection refused"
    assert_equal [read_deferred $h2 15000] "ERR:ERR node 127.0.0.1:$p2 did not join: Connection refused"
    set took [expr {[clock milliseconds] - $t0}]
    assert {$took < 5000} "(the refusals took $took ms)"
    # Both learners left again, and that is committed: a new change is free.
    assert_equal [raft_field $l raft_num_nodes] $nodes
}

test "a follower is removed under load with RAFT.NODE REMOVE" {
    need_cluster
    load_restart
    set l [wait_leader]
    set victim ""
    foreach i $::cl::nodes { if {$i != $l && $i <= 3} { set victim $i } }
    set voters [raft_field $l raft_num_voters]
    set id [node_id $victim]
    assert_equal [ncmd_timeout 20000 $l raft.node remove $id] OK
    forget_node $victim
    rec_write 100
    wait_leader
    foreach i $::cl::nodes {
        assert_equal [raft_field $i raft_num_voters] [expr {$voters - 1}] "node $i"
    }
    load_stop
    assert_acked_readable
    assert_digests_equal
}

test "leadership moves under load with RAFT.TRANSFER-LEADER <id>" {
    need_cluster
    load_restart
    set l [wait_leader]
    set t ""
    foreach i $::cl::nodes { if {$i != $l} { set t $i } }
    rec_write 50
    assert_equal [ncmd_timeout 20000 $l raft.transfer-leader [node_id $t]] OK
    # +OK means the old leader already follows the target in a newer term.
    assert_equal [raft_field $l raft_leader_id] [node_id $t] "leader seen by the old leader"
    wait_leader_moved $l $t
    load_restart
    rec_write 50
    assert_acked_readable
}

test "RAFT.TRANSFER-LEADER without an id hands leadership to another voter" {
    need_cluster
    load_restart
    set l [wait_leader]
    assert_equal [ncmd_timeout 20000 $l raft.transfer-leader] OK
    set nl [raft_field $l raft_leader_id]
    assert {$nl ne "" && $nl != 0 && $nl != [node_id $l]} "(old leader follows '$nl')"
    wait_leader_moved $l
    rec_write 50
    load_stop
    assert_acked_readable
    assert_digests_equal
}

test "RAFT.TRANSFER-LEADER to a node cut off from the leader fails after two election timeouts" {
    need_cluster
    set l [wait_leader]
    set t ""
    foreach i $::cl::nodes { if {$i != $l} { set t $i } }
    set tid [node_id $t]
    assert_equal [ncmd $l debug raft-partition $tid] OK
    assert_equal [ncmd $t debug raft-partition [node_id $l]] OK
    # Entries the target lacks: it cannot catch up, nor win an election.
    rec_write 20
    set t0 [clock milliseconds]
    catch {ncmd_timeout 20000 $l raft.transfer-leader $tid} r
    set took [expr {[clock milliseconds] - $t0}]
    foreach i $::cl::nodes { assert_equal [ncmd $i debug raft-partition] OK }
    assert_equal $r "ERR leadership transfer to node $tid timed out after [expr {2 * $::cl::et}] ms"
    assert {$took >= 2 * $::cl::et - 50 && $took < 2 * $::cl::et + 5000} "(the error came after $took ms)"
    rec_write 20
    wait_leader
    assert_acked_readable
    assert_digests_equal
}

test "the leader removes itself under load with RAFT.NODE REMOVE and another node leads" {
    need_cluster
    load_restart
    set l [wait_leader]
    set voters [raft_field $l raft_num_voters]
    rec_write 50
    # +OK once the smaller configuration is committed; then it steps down.
    assert_equal [ncmd_timeout 20000 $l raft.node remove [node_id $l]] OK
    load_stop
    forget_node $l
    set nl [wait_leader]
    rec_write 50
    foreach i $::cl::nodes {
        assert_equal [raft_field $i raft_num_voters] [expr {$voters - 1}] "node $i"
    }
    assert_acked_readable
    assert_digests_equal
}
cluster_stop
