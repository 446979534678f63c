# Snapshots of a one-member Raft group (the default server): when the
# automatic ones are taken (raft-snapshot-entries and, as Redis'
# auto-aof-rewrite-min-size / -percentage, the size of the log since the
# last one). Tagged raftcache-only: redis-server has no Raft log.

proc raft_info {field} { info_field [r info raft] $field }

proc wait_no_snapshot_running {} {
    wait_for_condition 100 50 {[raft_info raft_snapshot_in_progress] == 0} \
        "a snapshot never finished"
}

start_server {tags {persistence external:skip} overrides {
        raft-snapshot-entries 10 raft-snapshot-min-log-size 100kb
        raft-snapshot-log-percentage 0}} {
    test {A snapshot waits until the log holds raft-snapshot-min-log-size} {
        set v [string repeat x 1000]
        for {set i 0} {$i < 60} {incr i} { r set k:$i $v }
        # 60 entries is far past raft-snapshot-entries, 60 KB is not 100 KB.
        after 200
        assert_equal [raft_info raft_snapshot_index] 0
        assert_range [raft_info raft_log_bytes_since_snapshot] 60000 99999
        for {set i 60} {$i < 120} {incr i} { r set k:$i $v }
        wait_for_condition 100 50 {[raft_info raft_snapshot_index] > 0} \
            "no snapshot after 120 KB of log"
        wait_no_snapshot_running
        assert_range [raft_info raft_log_bytes_since_snapshot] 0 99999
        assert_equal [r dbsize] 120
    } {raftcache-only}
}

start_server {tags {persistence external:skip} overrides {
        raft-snapshot-entries 10 raft-snapshot-min-log-size 0
        raft-snapshot-log-percentage 100}} {
    test {A snapshot waits until the log outgrows the last snapshot} {
        set v [string repeat y 1000]
        for {set i 0} {$i < 200} {incr i} { r set k:$i $v }
        # The first snapshot: no earlier one to outgrow.
        wait_for_condition 100 50 {[raft_info raft_snapshot_index] > 0} \
            "no first snapshot"
        wait_no_snapshot_running
        # Quiet now: the log since the newest snapshot is smaller than it.
        set first [raft_info raft_snapshot_index]
        set size [raft_info raft_snapshot_size]
        set logged [raft_info raft_log_bytes_since_snapshot]
        assert {$size > 100000 && $logged < $size} "(snapshot $size bytes, log $logged)"
        r set hot $v
        set per [expr {[raft_info raft_log_bytes_since_snapshot] - $logged}]
        # Overwrites up to 20 KB short of its size: no new snapshot.
        set n [expr {($size - $logged - 20000) / $per}]
        for {set i 0} {$i < $n} {incr i} { r set hot $v }
        after 200
        assert_equal [raft_info raft_snapshot_index] $first
        # Past its size: a new one.
        for {set i 0} {$i < 40} {incr i} { r set hot $v }
        wait_for_condition 100 50 {[raft_info raft_snapshot_index] > $first} \
            "no snapshot after the log outgrew the last one"
    } {raftcache-only}
}
