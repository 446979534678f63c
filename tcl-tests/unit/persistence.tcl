# Snapshots of a one-member Raft group (the default server): when the
# automatic ones are taken (raft-snapshot-entries and, as Redis'
# auto-aof-rewrite-min-size / -percentage, the size of the log since the
# last one), and SAVE, BGSAVE, LASTSAVE and INFO persistence, which take
# and report them. Tagged raftcache-only: redis-server has no Raft log.

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
        # The log in memory is what maxmemory does not count.
        assert_equal [info_field [r info memory] mem_not_counted_for_evict] \
            [raft_info raft_log_bytes_since_snapshot]
        # The log's own arena holds it (and empty chunks kept for reuse).
        assert {[raft_info raft_log_memory_mapped] >=
                [raft_info raft_log_bytes_since_snapshot]}
        assert {[raft_info raft_log_memory_cached] <=
                [raft_info raft_log_memory_mapped]}
        # Each node waits up to 49 % more (so a group's members do not all
        # fork at once): 160 KB is past any draw.
        for {set i 60} {$i < 160} {incr i} { r set k:$i $v }
        wait_for_condition 100 50 {[raft_info raft_snapshot_index] > 0} \
            "no snapshot after 160 KB of log"
        wait_no_snapshot_running
        assert_range [raft_info raft_log_bytes_since_snapshot] 0 99999
        assert_range [info_field [r info memory] mem_not_counted_for_evict] \
            0 99999
        assert_equal [r dbsize] 160
    } {raftcache-only}
}

start_server {tags {persistence external:skip} overrides {
        raft-snapshot-entries 10 raft-snapshot-min-log-size 0
        raft-snapshot-log-percentage 100}} {
    test {A snapshot waits until the log outgrows the last snapshot} {
        set v [string repeat y 1000]
        for {set i 0} {$i < 200} {incr i} { r set k:$i $v }
        # A snapshot of the whole keyspace (~200 KB) to outgrow.
        wait_no_snapshot_running
        assert_equal [r bgsave] {Background saving started}
        wait_no_snapshot_running
        set first [raft_info raft_snapshot_index]
        set size [raft_info raft_snapshot_size]
        set logged [raft_info raft_log_bytes_since_snapshot]
        assert {$size > 200000 && $logged == 0} "(snapshot $size bytes, log $logged)"
        r set hot $v
        set per [expr {[raft_info raft_log_bytes_since_snapshot] - $logged}]
        # Overwrites up to 20 KB short of its size: no new snapshot.
        set n [expr {($size - $logged - 20000) / $per}]
        for {set i 0} {$i < $n} {incr i} { r set hot $v }
        after 200
        assert_equal [raft_info raft_snapshot_index] $first
        # Past its size and the up to 49 % more this node draws: a new one.
        set more [expr {($size / 2 + 40000) / $per}]
        for {set i 0} {$i < $more} {incr i} { r set hot $v }
        wait_for_condition 100 50 {[raft_info raft_snapshot_index] > $first} \
            "no snapshot after the log outgrew the last one"
    } {raftcache-only}
}

# SAVE, BGSAVE, LASTSAVE and INFO persistence: on a Raft node a save is a
# Raft snapshot of this node's state at its applied index (Redis 7 texts).

proc info_persistence {field} { info_field [r info persistence] $field }

# Stops the server (SIGTERM) and starts it again on the same port and dir.
proc restart_same_dir {} {
    ::srv::kill_pid [srv pid]
    set dir [srv dir]
    set pid [exec $::srv::bin [file join $dir server.conf] \
                 >>$dir/stdout 2>>$dir/stderr &]
    if {[info exists ::env(TCL_TESTS_PID_FILE)]} {
        set pf [open $::env(TCL_TESTS_PID_FILE) a]
        puts $pf $pid
        close $pf
    }
    set ::srv::cur(pid) $pid
    wait_for_condition 100 100 {[::srv::ping_ok 127.0.0.1 [srv port]]} \
        "the server did not come back"
    ::srv::connect_default
}

start_server {tags {persistence external:skip}} {
    test {LASTSAVE is the start time until the first snapshot} {
        set t [r lastsave]
        assert_range $t [expr {[clock seconds] - 10}] [clock seconds]
        assert_equal [info_persistence rdb_last_save_time] $t
        assert_equal [info_persistence rdb_bgsave_in_progress] 0
        assert_equal [info_persistence rdb_last_bgsave_status] ok
        assert_equal [info_persistence rdb_saves] 0
        assert_equal [info_persistence rdb_last_bgsave_time_sec] -1
        assert_equal [info_persistence rdb_current_bgsave_time_sec] -1
        assert_equal [raft_info raft_snapshot_index] 0
        assert_equal [info_field [r info stats] total_forks] 0
        assert_equal [info_field [r info stats] latest_fork_usec] 0
    } {raftcache-only}

    test {BGSAVE takes a snapshot at the applied index and LASTSAVE moves} {
        set before [r lastsave]
        after 1100
        for {set i 0} {$i < 100} {incr i} { r set k:$i v:$i }
        set applied [raft_info raft_applied_index]
        assert_equal [r bgsave] {Background saving started}
        wait_no_snapshot_running
        assert_equal [raft_info raft_snapshot_index] $applied
        assert_equal [raft_info raft_log_bytes_since_snapshot] 0
        assert {[r lastsave] > $before}
        assert_equal [info_persistence rdb_last_save_time] [r lastsave]
        assert_equal [info_persistence rdb_changes_since_last_save] 0
        # The snapshot child's fork, as Redis reports a BGSAVE's.
        assert_equal [info_field [r info stats] total_forks] 1
        assert_range [info_field [r info stats] latest_fork_usec] 1 5000000
    } {raftcache-only}

    test {BGSAVE with the newest snapshot current: started, nothing written} {
        set index [raft_info raft_snapshot_index]
        assert_equal [r bgsave] {Background saving started}
        assert_equal [r bgsave schedule] {Background saving started}
        assert_equal [raft_info raft_snapshot_in_progress] 0
        assert_equal [raft_info raft_snapshot_index] $index
    } {raftcache-only}

    test {BGSAVE while a snapshot is written: already in progress} {
        r set more v
        # One read holds all three: the child cannot be reaped in between.
        assert_equal [raw_exchange "BGSAVE\r\nBGSAVE\r\nBGSAVE SCHEDULE\r\n"] \
            "+Background saving started\r\n-ERR Background save already in progress\r\n-ERR Background save already in progress\r\n"
        wait_no_snapshot_running
        assert_equal [raft_info raft_snapshot_index] [raft_info raft_applied_index]
    } {raftcache-only}

    test {BGSAVE with another argument is a syntax error} {
        assert_error "ERR syntax error" {r bgsave now}
        assert_error "ERR syntax error" {r bgsave schedule schedule}
    }

    test {INFO persistence: changes since the snapshot, a save in progress} {
        wait_no_snapshot_running
        r save
        r set a 1
        r set b 2
        r incr a
        assert_equal [info_persistence rdb_changes_since_last_save] 3
        set saves [info_persistence rdb_saves]
        set reply [raw_exchange "BGSAVE\r\nINFO persistence\r\n"]
        assert_match "+Background saving started\r\n*rdb_bgsave_in_progress:1\r\n*rdb_current_bgsave_time_sec:0\r\n*" $reply
        wait_no_snapshot_running
        assert_equal [info_persistence rdb_saves] [expr {$saves + 1}]
        assert_equal [info_persistence rdb_last_bgsave_time_sec] 0
        assert_equal [info_persistence rdb_current_bgsave_time_sec] -1
        assert_equal [info_persistence rdb_bgsave_in_progress] 0
        assert_equal [info_persistence rdb_last_bgsave_status] ok
        assert_equal [info_persistence rdb_changes_since_last_save] 0
    } {raftcache-only}

    test {SAVE replies +OK once the snapshot is saved} {
        for {set i 0} {$i < 50} {incr i} { r set s:$i [string repeat z 100] }
        # INFO in the same write runs only after SAVE's reply.
        set reply [raw_exchange "SAVE\r\nINFO raft\r\n"]
        assert_match "+OK\r\n*raft_snapshot_in_progress:0\r\n*" $reply
        set info [string range $reply 5 end]
        assert_equal [info_field $info raft_snapshot_index] \
            [info_field $info raft_applied_index]
        assert_equal [raft_info raft_log_bytes_since_snapshot] 0
        # Current already: at once.
        assert_equal [r save] OK
    } {raftcache-only}

    test {SAVE holds the commands behind it until its own reply} {
        assert_equal [raw_exchange "SET o 1\r\nSAVE\r\nSET o 2\r\nGET o\r\n"] \
            "+OK\r\n+OK\r\n+OK\r\n\$1\r\n2\r\n"
    } {raftcache-only}

    test {SAVE while a snapshot is written: already in progress} {
        r set p 1
        assert_equal [raw_exchange "BGSAVE\r\nSAVE\r\n"] \
            "+Background saving started\r\n-ERR Background save already in progress\r\n"
        wait_no_snapshot_running
    } {raftcache-only}

    test {MULTI: BGSAVE is scheduled, then taken} {
        r set q 1
        r multi
        r bgsave
        r set q 2
        assert_equal [r exec] {{Background saving scheduled} OK}
        wait_for_condition 100 50 \
            {[raft_info raft_snapshot_index] == [raft_info raft_applied_index]} \
            "the scheduled snapshot never ran"
    } {raftcache-only}

    test {MULTI: SAVE is refused and the transaction discarded} {
        r multi
        assert_error "ERR Command not allowed inside a transaction" {r save}
        assert_error "EXECABORT*" {r exec}
    }

    test {The data survives a restart from the snapshot} {
        r flushall
        for {set i 0} {$i < 500} {incr i} { r set r:$i [string repeat v $i] }
        assert_equal [r save] OK
        set index [raft_info raft_snapshot_index]
        restart_same_dir
        wait_for_condition 100 50 {[raft_info raft_applied_index] >= $index} \
            "the restarted node did not reach its snapshot"
        assert_equal [raft_info raft_snapshot_index] $index
        assert_equal [r dbsize] 500
        assert_equal [r get r:499] [string repeat v 499]
        assert_equal [r get r:0] {}
        assert_equal [r strlen r:250] 250
    } {raftcache-only}
}

# DBSIZE once the node has applied again what it served before its log
# failed: until then every reply is -LOADING, never a smaller keyspace.
proc dbsize_after_loading {} {
    for {set i 0} {$i < 500} {incr i} {
        if {![catch {r dbsize} n]} { return $n }
        assert_match "LOADING*" $n
        after 10
    }
    error "still loading after 5 s"
}

# A log write that fails (a full disk; DEBUG RAFT-WAL-FAIL makes the next
# one fail with ENOSPC, and the disk stays full until DEBUG RAFT-WAL-FAIL
# CLEAR) on a node alone in its group: as Redis after an AOF write error,
# writes are refused with -MISCONF and reads go on; once the disk takes
# writes again (checked every raft-log-retry-interval ms) the node reloads
# from its log, with everything acknowledged, and serves writes again on
# the same connections. A restart mends it too.
start_server {tags {persistence external:skip} overrides {
        enable-debug-command yes raft-log-retry-interval 100}} {
    test {A failed log write: -MISCONF for writes, reads go on, a restart mends it} {
        for {set i 0} {$i < 100} {incr i} { r set f:$i $i }
        assert_equal [r debug raft-wal-fail] OK
        assert_error "MISCONF Errors writing to the Raft log: no space" {r set f:x 1}
        assert_error "MISCONF Errors writing to the Raft log: no space" {r incr f:1}
        assert_equal [r get f:99] 99
        assert_equal [r dbsize] 100
        assert_equal [raft_info raft_role] failed
        assert_equal [raft_info raft_wal_status] "no space"
        restart_same_dir
        wait_for_condition 100 50 {[raft_info raft_role] eq "leader"} \
            "the restarted node did not lead"
        assert_equal [raft_info raft_wal_status] ok
        assert_equal [r dbsize] 100
        assert_equal [r get f:x] {}
        assert_equal [r set f:x 2] OK
        assert_equal [r get f:x] 2
    } {raftcache-only}

    test {A failed log write: the node mends itself once the disk takes writes again} {
        r flushall
        for {set i 0} {$i < 100} {incr i} { r set m:$i $i }
        assert_equal [r save] OK ;# the reload reads a snapshot and a log
        r watch m:1
        assert_equal [r debug raft-wal-fail] OK
        assert_error "MISCONF*" {r set m:x 1}
        after 500 ;# five checks, each finding the disk still full
        assert_equal [raft_info raft_role] failed
        assert_error "MISCONF*" {r set m:x 1}
        assert_equal [r debug raft-wal-fail clear] OK
        wait_for_condition 100 50 {[raft_info raft_role] eq "leader"} \
            "the node did not mend ([raft_info raft_role])"
        assert_equal [raft_info raft_wal_status] ok
        assert_equal [raft_info raft_log_mends] 1
        assert_equal [dbsize_after_loading] 100
        assert_equal [r get m:99] 99
        assert_equal [r get m:x] {}
        # a WATCH from before the reload is broken (the node leads a new term)
        r multi
        r set m:1 changed
        assert_equal [r exec] {}
        assert_equal [r set m:x 2] OK
        assert_equal [r get m:x] 2
        restart_same_dir
        wait_for_condition 100 50 {[raft_info raft_role] eq "leader"} \
            "the restarted node did not lead"
        assert_equal [r dbsize] 101
        assert_equal [r get m:x] 2
    } {raftcache-only}
}

# A log that failed with an I/O error is not reopened by itself: the disk's
# state is unknown until someone looks and restarts the node.
start_server {tags {persistence external:skip} overrides {
        enable-debug-command yes raft-log-retry-interval 100}} {
    test {A log write failed with an I/O error: the node waits for a restart} {
        r set e:1 1
        assert_equal [r debug raft-wal-fail eio] OK
        assert_error "MISCONF Errors writing to the Raft log: I/O error" {r set e:2 2}
        assert_equal [r debug raft-wal-fail clear] OK
        after 500 ;# five checks would have mended a full disk
        assert_equal [raft_info raft_role] failed
        assert_equal [raft_info raft_log_mends] 0
        assert_equal [r get e:1] 1
        assert_error "*wrong number of arguments*" {r debug raft-wal-fail eio x}
        assert_error "*syntax*" {r debug raft-wal-fail nope}
        restart_same_dir
        wait_for_condition 100 50 {[raft_info raft_role] eq "leader"} \
            "the restarted node did not lead"
        assert_equal [dbsize_after_loading] 1
        assert_equal [r set e:2 2] OK
    } {raftcache-only}
}

# The same with a real full file system: the node's dir is a 16 MiB tmpfs
# (needs root, fallocate and GNU df, else skipped) whose free space a
# filler file takes.
proc tmpfs_mount {dir} {
    file mkdir $dir
    if {[catch {exec mount -t tmpfs -o size=16m tmpfs $dir}]} { return 0 }
    if {[catch {exec df -k --output=avail $dir}] ||
        [catch {exec fallocate -l 4096 [file join $dir f]}]} {
        catch {exec umount $dir}
        return 0
    }
    file delete [file join $dir f]
    return 1
}

proc tmpfs_free_kb {dir} {
    lindex [exec df -k --output=avail $dir] end
}

set full_dir [file normalize [file join $::srv::tmpdir full.[pid]]]
if {![::srv::is_redis] && [tmpfs_mount $full_dir]} {
    try {
        start_server [list tags {persistence external:skip} overrides [list \
                dir $full_dir wal-segment-size 1mb raft-log-retry-interval 100]] {
            test {A full disk: writes fail with -MISCONF, and the node mends once space is freed} {
                set filler [file join $full_dir filler]
                exec fallocate -l [expr {([tmpfs_free_kb $full_dir] - 1500) * 1024}] $filler
                set v [string repeat x 1000]
                set acked 0
                set err ""
                for {set i 0} {$i < 5000 && $err eq ""} {incr i} {
                    if {[catch {r set full:$i $v} e]} { set err $e } else { incr acked }
                }
                assert_match "MISCONF Errors writing to the Raft log: no space" $err
                assert {$acked > 100}
                assert_equal [raft_info raft_role] failed
                after 500
                assert_equal [raft_info raft_role] failed
                assert_equal [raft_info raft_wal_status] "no space"
                file delete $filler
                wait_for_condition 100 50 {[raft_info raft_role] eq "leader"} \
                    "the node did not mend ([raft_info raft_role])"
                assert {[dbsize_after_loading] >= $acked}
                for {set i 0} {$i < $acked} {incr i} {
                    assert_equal [r strlen full:$i] 1000
                }
                assert_equal [r set full:after 1] OK
                assert_equal [r get full:after] 1
            } {raftcache-only}
        }
    } finally {
        catch {exec umount $full_dir}
        catch {file delete -force $full_dir}
    }
} else {
    catch {file delete -force $full_dir}
}
