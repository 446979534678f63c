# Replication: writes on the leader are readable on every node and every
# node reaches the same keyspace digest at the same applied index; MULTI/EXEC
# and relative TTLs replicate deterministically; with follower-proxy yes a
# follower answers writes and reads transparently, in order.

test "writes on the leader are readable on all nodes, digests equal" {
    cluster_start
    for {set k 0} {$k < 200} {incr k} { assert_equal [ccall set key:$k val:$k] OK }
    ccall incr counter
    ccall incrby counter 41
    ccall append key:1 -more
    ccall mset m1 a m2 b m3 c
    ccall del key:2 key:3
    ccall setrange key:4 2 XY
    ccall expire key:5 100000
    assert_digests_equal
    foreach i $::cl::nodes {
        set c [stale_client $i]
        assert_equal [$c get key:199] val:199 "node $i"
        assert_equal [$c get counter] 42 "node $i"
        assert_equal [$c get key:1] val:1-more "node $i"
        assert_equal [$c get key:2] {} "node $i"
        assert_equal [$c mget m1 m2 m3] {a b c} "node $i"
        assert_equal [$c dbsize] 202 "node $i"
        $c close
    }
}

test "MULTI/EXEC replicates as one unit" {
    need_cluster
    set l [wait_leader]
    set c [redis_client 127.0.0.1 [node_port $l]]
    $c multi
    $c set tx:a 1
    $c incr tx:a
    $c set tx:b 2
    assert_equal [$c exec] {OK 2 OK}
    $c close
    assert_digests_equal
    set c [stale_client [expr {$l % 3 + 1}]]
    assert_equal [$c mget tx:a tx:b] {2 2}
    $c close
}

test "relative TTLs become the same absolute expiry on every node" {
    need_cluster
    ccall set ttl:ex v ex 1000
    ccall set ttl:px v px 900000
    ccall expire key:10 5000
    wait_converged
    set times {}
    foreach i $::cl::nodes {
        set c [stale_client $i]
        lappend times [list [$c pexpiretime ttl:ex] [$c pexpiretime ttl:px] [$c pexpiretime key:10]]
        $c close
    }
    assert_equal [llength [lsort -unique $times]] 1 "expiry times per node: $times"
    assert_digests_equal
}
cluster_stop

test "follower-proxy yes: a follower answers writes and reads transparently" {
    cluster_start -overrides {follower-proxy yes}
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    assert_equal [ncmd $f set proxied v1] OK
    assert_equal [ncmd $f get proxied] v1
    assert_equal [ncmd $l get proxied] v1
    assert_equal [ncmd $f incr pcount] 1
}

test "follower-proxy yes: pipelined mixed commands come back in request order" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    set c [redis_client 127.0.0.1 [node_port $f]]
    $c deferred 1
    set want {}
    for {set k 0} {$k < 100} {incr k} {
        switch [expr {$k % 4}] {
            0 { $c set pipe:$k $k; lappend want OK }
            1 { $c get pipe:[expr {$k - 1}]; lappend want [expr {$k - 1}] }
            2 { $c ping; lappend want PONG }
            3 { $c incr pipe:ctr; lappend want [expr {$k / 4 + 1}] }
        }
    }
    set got {}
    for {set k 0} {$k < 100} {incr k} {
        if {[catch {$c read} r]} { set r "ERR:$r" }
        lappend got $r
    }
    $c close
    assert_equal $got $want
    assert_digests_equal
}

test "BGSAVE and SAVE on a follower snapshot that follower only" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    for {set k 0} {$k < 50} {incr k} { assert_equal [ccall set snap:$k $k] OK }
    wait_converged
    set lsnap [raft_field $l raft_snapshot_index]
    assert_equal [ncmd $f bgsave] {Background saving started}
    wait_for_condition 100 50 {[raft_field $f raft_snapshot_in_progress] == 0} \
        "the follower's snapshot never finished"
    assert_equal [raft_field $f raft_snapshot_index] [raft_field $f raft_applied_index]
    assert_equal [raft_field $l raft_snapshot_index] $lsnap
    assert_equal [ccall set snap:x x] OK
    wait_converged
    assert_equal [ncmd $f save] OK
    assert_equal [raft_field $f raft_snapshot_index] [raft_field $f raft_applied_index]
    assert_equal [raft_field $l raft_snapshot_index] $lsnap
}
cluster_stop
