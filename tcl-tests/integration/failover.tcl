# Failover: kill -9 the leader while acknowledged writes are recorded (some
# in flight at the moment of the kill), alone and under redis-benchmark
# load (SETs to the leader, then to the new one): a new leader is agreed within 2 election timeouts (plus 200 ms for
# polling on a loaded machine) and every acknowledged write is readable
# afterwards, on the survivors and on the old leader once it is back. The
# survivors learn that the leader is gone from its refused bus port, which
# brings the election forward (RAFT_EVENT_PEER_DOWN).

proc failover_limit_ms {} { return [expr {2 * $::cl::et + 200}] }

test "kill -9 the leader: new leader within 2 election timeouts, no acknowledged write lost" {
    cluster_start
    rec_reset
    rec_write 100
    set l [wait_leader]
    rec_write_inflight $l 200 { set t0 [clock milliseconds]; kill_node $l }
    lassign [time_new_leader $l $t0] nl ms
    puts "    new leader node $nl after $ms ms (limit [failover_limit_ms] ms)"
    assert {$ms <= [failover_limit_ms]} "(new leader after $ms ms)"
    # the survivors' redials were refused: they knew the leader was gone
    set reports 0
    foreach i $::cl::nodes {
        if {$i != $l} { incr reports [raft_field $i raft_leader_gone_reports] }
    }
    assert {$reports > 0} "(no survivor saw the leader's bus port refuse)"
    rec_write 100
    assert_acked_readable
    assert_digests_equal
    restart_node $l
    assert_digests_equal
    assert_acked_on_node $l
}
cluster_stop

test "kill -9 the leader under redis-benchmark load: no acknowledged write lost" {
    cluster_start
    set l [wait_leader]
    set bench [bench_start $l 15]
    rec_reset
    rec_write 100
    after 500
    rec_write_inflight $l 200 { set t0 [clock milliseconds]; kill_node $l }
    lassign [time_new_leader $l $t0] nl ms
    puts "    new leader node $nl after $ms ms under load (limit [failover_limit_ms] ms)"
    bench_stop $bench
    set bench [bench_start $nl 15]
    rec_write 100
    after 300
    bench_stop $bench
    assert {$ms <= [failover_limit_ms]} "(new leader after $ms ms)"
    assert_acked_readable
    assert_digests_equal
    restart_node $l
    assert_digests_equal
    assert_acked_on_node $l
}
cluster_stop

# A node whose log cannot be written (a full disk; DEBUG RAFT-WAL-FAIL makes
# its next log write fail with ENOSPC) leaves the group instead of holding
# it: as leader it stops heartbeating, so the others elect a leader; it then
# sends its clients there. After a restart it is a member again.
proc wal_fail_node {i} {
    assert_equal [ncmd $i debug raft-wal-fail] OK
    # the write that meets the failed log is not acknowledged (it may still
    # be committed: its entry went to the followers before the log write)
    assert_error "CLUSTERDOWN*" {ncmd $i set walfail:x 1}
    assert_equal [raft_field $i raft_role] failed
    assert_equal [raft_field $i raft_wal_status] "no space"
}

proc assert_redirects_to {i leader} {
    wait_for_condition 100 50 {[raft_field $i raft_leader_id] eq [node_id $leader]} \
        "node $i never learned the leader ([cluster_roles])"
    assert_error "MOVED * [node_addr $leader]" {ncmd $i set walfail:y 1}
}

test "the leader's log cannot be written: a new leader within 2 election timeouts, no acknowledged write lost" {
    cluster_start
    rec_reset
    rec_write 100
    set l [wait_leader]
    set t0 [clock milliseconds]
    wal_fail_node $l
    lassign [time_new_leader $l $t0] nl ms
    puts "    new leader node $nl after $ms ms (limit [failover_limit_ms] ms)"
    assert {$ms <= [failover_limit_ms]} "(new leader after $ms ms)"
    assert_redirects_to $l $nl
    rec_write 100
    assert_acked_readable
    restart_node $l
    assert_equal [raft_field $l raft_wal_status] ok
    wait_converged
    assert_digests_equal
    assert_acked_on_node $l
}
cluster_stop

test "a follower's log cannot be written: the group goes on without it, and it catches up after a restart" {
    cluster_start
    set l [wait_leader]
    set f [lindex [nodes_except $l] 0]
    rec_reset
    rec_write 50
    assert_equal [ncmd $f debug raft-wal-fail] OK
    rec_write 100 ;# the next entry fails follower f's log
    wait_for_condition 100 50 {[raft_field $f raft_role] eq "failed"} \
        "follower $f did not fail ([cluster_roles])"
    assert_equal [wait_leader 5000 [nodes_except $f]] $l
    assert_redirects_to $f $l
    rec_write 100
    assert_acked_readable
    restart_node $f
    wait_converged
    assert_digests_equal
    assert_acked_on_node $f
}
cluster_stop

# DEBUG RAFT-WAL-FAIL keeps the disk "full" until DEBUG RAFT-WAL-FAIL CLEAR;
# the node checks every raft-log-retry-interval ms (1000 by default) and,
# once its disk takes writes, reloads from its log and rejoins in place.
test "a failed leader rejoins by itself once its disk takes writes again" {
    cluster_start
    rec_reset
    rec_write 100
    set l [wait_leader]
    wal_fail_node $l
    set nl [wait_leader 5000 [nodes_except $l]]
    rec_write 100
    after 1500 ;# a check found the disk still full
    assert_equal [raft_field $l raft_role] failed
    # a stale reader kept across the reload never sees the keyspace shrink:
    # it gets -LOADING until the node has applied what it served before
    set c [stale_client $l]
    set before [$c dbsize]
    assert {$before >= 100}
    assert_equal [ncmd $l debug raft-wal-fail clear] OK
    # INFO between two -LOADING replies ran while loading: it says so
    set loading 0
    set info_loading 0
    set prev_loading 0
    set info_flag ""
    set deadline [expr {[clock milliseconds] + 10000}]
    while {[clock milliseconds] < $deadline} {
        if {[catch {$c dbsize} n]} {
            assert_match "LOADING*" $n
            incr loading
            if {$prev_loading} { assert_equal $info_flag 1 }
            set prev_loading 1
        } else {
            assert {$n >= $before} "(DBSIZE $n after the reload, $before before)"
            if {[raft_field $l raft_log_mends] == 1} break
            set prev_loading 0
        }
        set info_flag [info_field [$c info persistence] loading]
        if {$info_flag} { incr info_loading }
        after 10
    }
    puts "    $loading -LOADING replies during the reload ($info_loading INFO loading:1)"
    assert_equal [info_field [$c info persistence] loading] 0
    $c close
    wait_for_condition 100 50 {[raft_field $l raft_role] eq "follower"} \
        "node $l did not rejoin ([cluster_roles])"
    assert_equal [raft_field $l raft_wal_status] ok
    rec_write 100
    assert_acked_readable
    wait_converged
    assert_digests_equal
    assert_acked_on_node $l
    assert_equal [raft_field $l raft_leader_id] [node_id [wait_leader]]
}
cluster_stop

test "DEBUG RAFT-WAL-FAIL is refused unless enable-debug-command allows it" {
    cluster_start -overrides {enable-debug-command no}
    set l [wait_leader]
    assert_error "*DEBUG command not allowed*" {ncmd $l debug raft-wal-fail}
    assert_equal [ncmd $l set k v] OK
    assert_equal [raft_field $l raft_wal_status] ok
}
cluster_stop
