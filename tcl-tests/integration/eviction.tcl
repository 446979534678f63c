# Eviction under maxmemory is replicated: only the leader picks victims and
# proposes their removal, followers never evict on their own, so every node
# holds the same keyspace at the same applied index while memory stays
# bounded. With noeviction a write over the limit gets Redis' -OOM before
# it is proposed (no log entry).

proc used_memory {i} { return [info_field [ncmd $i info memory] used_memory] }
proc evicted_keys {i} { return [info_field [ncmd $i info stats] evicted_keys] }

test "allkeys-lru eviction keeps digests equal and memory bounded" {
    set max [expr {1024 * 1024}]
    cluster_start -overrides [list maxmemory $max maxmemory-policy allkeys-lru]
    set l [wait_leader]
    set val [string repeat x 1000]
    for {set k 0} {$k < 3000} {incr k} {
        assert_equal [ncmd $l set ev:$k $val] OK
        if {$k % 500 == 0} {
            assert [expr {[used_memory $l] < 2 * $max}] "leader at [used_memory $l] bytes after $k writes"
        }
    }
    assert_digests_equal
    set sizes {}
    foreach i $::cl::nodes {
        set c [stale_client $i]
        lappend sizes [$c dbsize]
        $c close
        assert [expr {[evicted_keys $i] > 0}] "node $i counted no evicted keys"
        assert [expr {[used_memory $i] <= $max + 64 * 1024}] "node $i uses [used_memory $i] bytes"
    }
    assert_equal [llength [lsort -unique $sizes]] 1 "dbsize differs: $sizes"
    assert [expr {[lindex $sizes 0] < 3000 && [lindex $sizes 0] > 100}] "dbsize [lindex $sizes 0]"
    # The most recent writes survive an LRU eviction.
    assert_equal [ncmd $l get ev:2999] $val
}

test "followers do not evict on their own when maxmemory shrinks" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l % 3 + 1}]
    wait_converged
    set before [ncmd $f debug digest]
    set idx [raft_field $f raft_applied_index]
    assert_equal [ncmd $f config set maxmemory 100000] OK
    # Reads on the follower run no eviction, nor does a write queued in a
    # MULTI there (its memory check runs at queueing time).
    set c [stale_client $f]
    $c get ev:2999
    $c multi
    catch {$c set ev:queued v}
    $c discard
    $c close
    after 300
    assert_equal [ncmd $f debug digest] $before "the follower changed its keyspace"
    assert_equal [raft_field $f raft_applied_index] $idx
    assert_equal [ncmd $f config set maxmemory [expr {1024 * 1024}]] OK
}

test "noeviction answers -OOM before proposing and digests stay equal" {
    cluster_start -overrides [list maxmemory 300000 maxmemory-policy noeviction]
    set l [wait_leader]
    set val [string repeat y 1000]
    set oom ""
    for {set k 0} {$k < 1000 && $oom eq ""} {incr k} {
        catch {ncmd $l set ne:$k $val} r
        if {$r ne "OK"} { set oom $r }
    }
    assert_match "OOM command not allowed when used memory > 'maxmemory'*" $oom
    set idx [wait_converged]
    assert_error "OOM *" {ncmd $l set ne:again $val}
    assert_error "OOM *" {ncmd $l append ne:0 more}
    after 200
    assert_equal [raft_field $l raft_commit_index] $idx "a refused write was proposed"
    # Reads and deletes still work, then writes are accepted again.
    assert_equal [ncmd $l get ne:0] $val
    assert_equal [ncmd $l del ne:0 ne:1 ne:2 ne:3 ne:4] 5
    assert_equal [ncmd $l set ne:again v] OK
    assert_digests_equal
}
cluster_stop
