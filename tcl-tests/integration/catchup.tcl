# Catch-up: a follower killed with -9 and restarted after more writes
# catches up from the leader's log, and so does one restarted on an
# emptied dir or with its log cut by wal-repair; one that stayed away
# while the leader compacted its log (a snapshot every 1000 entries,
# whatever their size) catches up by InstallSnapshot.

proc a_follower {} {
    set l [wait_leader]
    foreach i $::cl::nodes { if {$i != $l && [node_alive $i]} { return $i } }
    error "no follower"
}

test "a follower killed and restarted catches up by log" {
    cluster_start
    rec_reset
    rec_write 100
    set f [a_follower]
    kill_node $f
    rec_write 300
    restart_node $f
    assert_digests_equal
    assert_acked_on_node $f
}

cluster_stop

# A follower restarted on an emptied dir (a replaced disk) with its old
# config: the leader still counts the entries it had acknowledged, and with
# no write after the restart only its heartbeats can tell it otherwise.
test "a follower restarted on an emptied dir gets the whole log again" {
    cluster_start
    rec_reset
    rec_write 200
    set f [a_follower]
    wait_converged
    kill_node $f
    ::cl::drop_data $::cl::node($f,dir)
    restart_node $f
    wait_converged
    assert_digests_equal
    assert_acked_on_node $f
    assert_equal [raft_field $f raft_applied_index] \
        [raft_field [wait_leader] raft_applied_index]
}

cluster_stop

test "a follower that missed a compaction catches up by snapshot" {
    cluster_start -overrides {raft-snapshot-entries 1000 raft-snapshot-min-log-size 0
        raft-snapshot-log-percentage 0}
    rec_reset
    rec_write 50
    set f [a_follower]
    set l [wait_leader]
    set last [raft_field $f raft_last_index]
    kill_node $f
    # Load to grow the log (a write timing out under it is not the point
    # here, so its errors are ignored), then recorded writes until the
    # leader has compacted past what the follower holds.
    catch {exec redis-benchmark -h 127.0.0.1 -p [node_port $l] -t set -n 20000 \
        -r 100000 -c 20 -P 16 -d 64 -q 2>@1}
    set deadline [expr {[clock milliseconds] + 30000}]
    while {[raft_field $l raft_snapshot_index] <= $last && [clock milliseconds] < $deadline} {
        rec_write 100
    }
    assert {[raft_field $l raft_snapshot_index] > $last} \
        "(leader never compacted past the follower's last index $last: raft_snapshot_index [raft_field $l raft_snapshot_index])"
    restart_node $f
    # Snapshot transfer is slower than log shipping on a loaded machine.
    wait_converged 40000
    assert_digests_equal
    assert {[raft_field $f raft_snapshot_index] > $last} "(follower snapshot index [raft_field $f raft_snapshot_index], was at $last)"
    assert_acked_on_node $f
}
cluster_stop

# A follower whose log is damaged in the middle refuses to start; with
# wal-repair yes it cuts its log at the damage and gets the rest again from
# the leader, though the leader counted those entries as held by it.
test "a follower whose log was cut by wal-repair gets the rest again" {
    cluster_start -overrides {wal-segment-size 16kb}
    rec_reset
    rec_write 600
    set f [a_follower]
    wait_converged
    stop_node $f
    set dir $::cl::node($f,dir)
    set segs [lsort [glob -directory $dir log-*]]
    assert {[llength $segs] >= 3} "(segments: $segs)"
    # damage in a segment that is not the last is never taken for a torn tail
    set seg [lindex $segs 0]
    set fd [open $seg r+]
    fconfigure $fd -translation binary
    seek $fd 6000
    puts -nonewline $fd [string repeat \xff 64]
    close $fd
    assert_error "*did not start*" {restart_node $f}
    set conf [open $::cl::node($f,conf) a]
    puts $conf "wal-repair yes"
    close $conf
    restart_node $f
    rec_write 10
    wait_converged
    assert_digests_equal
    assert_acked_on_node $f
}

cluster_stop
