# Real clients against the cluster: redis-cli (-c follows -MOVED; without
# it the error is shown), redis-benchmark against the leader, hiredis with a
# redirect-following loop (clients/hiredis_moved.c, built by the layer; path
# in $HIREDIS_MOVED), redis-py (clients/redis_py_cluster.py: a small
# retry-on-MOVED wrapper), and the Redis Cluster clients: CLUSTER SLOTS,
# SHARDS and NODES name the leader as the master of 0-16383 and the
# followers as its replicas, redis-py's RedisCluster and ioredis' Cluster
# (tests/clients/) start from a follower and live through a kill -9 of the
# leader; follower-proxy answers a RESP3 connection in RESP3.

set ::clients_dir [file join [file dirname $::root] tests clients]

test "redis-cli -c follows -MOVED from a follower to the leader" {
    cluster_start
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    assert_equal [exec redis-cli -c -h 127.0.0.1 -p [node_port $f] set cli:k v1] OK
    assert_equal [exec redis-cli -h 127.0.0.1 -p [node_port $l] get cli:k] v1
    assert_equal [exec redis-cli -c -h 127.0.0.1 -p [node_port $f] get cli:k] v1
}

test "redis-cli without -c shows the -MOVED error" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    set out [exec redis-cli -h 127.0.0.1 -p [node_port $f] set cli:k v2 2>@1]
    assert_match "*MOVED * [node_addr $l]*" $out
}

test "redis-benchmark SET/GET against the leader completes without errors" {
    need_cluster
    set l [wait_leader]
    set out [exec redis-benchmark -h 127.0.0.1 -p [node_port $l] -t set,get -n 20000 \
        -c 20 -P 8 -r 10000 -q 2>@1]
    assert_match "*SET: *GET: *" [string map {\n " " \r " "} $out]
    assert_no_match "*rror*" $out
    assert_digests_equal
}

test "hiredis follows -MOVED to the leader" {
    need_cluster
    if {![info exists ::env(HIREDIS_MOVED)] || ![file executable $::env(HIREDIS_MOVED)]} {
        error "hiredis_moved not built (set HIREDIS_MOVED)"
    }
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    set out [exec $::env(HIREDIS_MOVED) 127.0.0.1 [node_port $f] 2>@1]
    puts [string trimright $out]
    assert_no_match "*FAIL*" $out
    assert_match "*PASS*" $out
}

test "redis-py follows -MOVED through a retry wrapper" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l == 1 ? 2 : 1}]
    set script [file join $::root integration clients redis_py_cluster.py]
    set ::redis_py_out [exec /usr/bin/python3 $script 127.0.0.1 [node_port $f] 2>@1]
    puts [string trimright $::redis_py_out]
    assert_match "*PASS redis_py_moved_wrapper*" $::redis_py_out
    assert_match "*PASS redis_py_pipeline*" $::redis_py_out
}

test "redis-py MULTI/EXEC pipeline on the leader" {
    need_cluster
    assert_match "*PASS redis_py_transaction*" $::redis_py_out
}
test "CLUSTER SLOTS/SHARDS/NODES: the leader masters 0-16383, the followers are its replicas" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l % 3 + 1}]
    set lid [format %040x [node_id $l]]
    foreach i $::cl::nodes {
        set slots [ncmd $i cluster slots]
        assert_equal [llength $slots] 1
        set r [lindex $slots 0]
        assert_equal [lrange $r 0 1] {0 16383}
        assert_equal [lrange [lindex $r 2] 0 2] [list 127.0.0.1 [node_port $l] $lid]
        assert_equal [llength $r] 5
        assert_equal [ncmd $i cluster myid] [format %040x [node_id $i]]
        assert_equal [info_field [ncmd $i info cluster] cluster_enabled] 1
    }
    set nodes [ncmd $f cluster nodes]
    assert_match "*$lid 127.0.0.1:[node_port $l]@* master - * connected 0-16383*" $nodes
    assert_match "*myself,slave $lid *" $nodes
    set shards [ncmd $f cluster shards]
    assert_equal [llength $shards] 1
    array set sh [lindex $shards 0]
    assert_equal $sh(slots) {0 16383}
    array set n0 [lindex $sh(nodes) 0]
    assert_equal [list $n0(id) $n0(port) $n0(role)] [list $lid [node_port $l] master]
    assert_equal [ncmd $f cluster keyslot "{user1}:x"] [ncmd $f cluster keyslot user1]
    assert_equal [ncmd $f asking] OK
    assert_error "ERR unknown subcommand 'nope'. Try CLUSTER HELP." {ncmd $f cluster nope}
}

test "redis-py RedisCluster: topology, SET/GET, pipeline, and a kill -9 of the leader" {
    need_cluster
    set l [wait_leader]
    wait_slots_complete
    set f [expr {$l % 3 + 1}]
    set script [file join $::clients_dir redis_py_rediscluster.py]
    set out [exec /usr/bin/python3 $script 127.0.0.1 [node_port $f] [node_port $l] [node_pid $l] 2>@1]
    puts [string trimright $out]
    set ::cl::node($l,up) 0
    restart_node $l
    wait_leader 15000
    assert_no_match "*FAIL*" $out
    assert_equal [regexp -all {PASS rediscluster_} $out] 4
}

test "ioredis Cluster: topology, SET/GET, MULTI, and a kill -9 of the leader" {
    need_cluster
    set node_js [file join $::clients_dir node cluster.js]
    if {[catch {exec node --version}] ||
        ![file isdirectory [file join $::clients_dir node node_modules ioredis]]} {
        puts "    SKIP: node or tests/clients/node/node_modules (npm ci) missing"
        return
    }
    set l [wait_leader]
    wait_slots_complete
    set f [expr {$l % 3 + 1}]
    set out [exec node $node_js 127.0.0.1 [node_port $f] [node_port $l] [node_pid $l] 2>@1]
    puts [string trimright $out]
    set ::cl::node($l,up) 0
    restart_node $l
    wait_leader 15000
    assert_no_match "*FAIL*" $out
    assert_equal [regexp -all {PASS ioredis_cluster_} $out] 4
}

test "after a failover CLUSTER SLOTS and -MOVED name the new leader" {
    need_cluster
    set l [wait_leader]
    set dead [format %040x [node_id $l]]
    kill_node $l
    set others {}
    foreach i $::cl::nodes { if {$i != $l} { lappend others $i } }
    set nl [wait_leader 10000 $others]
    set f [lindex [lsearch -all -inline -not -exact $others $nl] 0]
    set r [lindex [ncmd $f cluster slots] 0]
    assert_equal [lindex $r 2 1] [node_port $nl]
    set slot [ncmd $f cluster keyslot fo:k]
    assert_error "MOVED $slot [node_addr $nl]" {ncmd $f set fo:k v}
    # The dead node is a failed replica: flagged in NODES, left out of SLOTS.
    assert_match "*$dead [node_addr $l]@* slave,fail * disconnected*" [ncmd $nl cluster nodes]
    assert_equal [llength [lindex [ncmd $nl cluster slots] 0]] 4
    restart_node $l
    wait_leader 15000
    wait_for_condition 100 100 {![string match "*fail*" [ncmd $nl cluster nodes]]} \
        "the restarted node is still flagged fail"
    assert_equal [llength [lindex [ncmd $nl cluster slots] 0]] 5
}

test "follower-proxy answers a RESP3 connection with the leader's RESP3 replies" {
    cluster_start -overrides {follower-proxy yes}
    set l [wait_leader]
    set f [expr {$l % 3 + 1}]
    set want {}
    set got {}
    foreach {i var} [list $l want $f got] {
        set c [redis_client 127.0.0.1 [node_port $i]]
        $c hello 3
        lappend $var [$c rawcmd set p3:k v]
        lappend $var [$c rawcmd get p3:k]
        lappend $var [$c rawcmd get p3:none]
        lappend $var [$c rawcmd mget p3:k p3:none]
        lappend $var [$c rawcmd set p3:nx 1 nx]
        lappend $var [$c rawcmd del p3:nx]
        $c close
    }
    assert_equal $got $want
    assert_equal [lindex $got 2] "_\r\n"
    # A RESP2 connection on the same follower still gets RESP2.
    set c [redis_client 127.0.0.1 [node_port $f]]
    assert_equal [$c rawcmd get p3:none] "\$-1\r\n"
    $c close
}

test "follower-proxy forwards MULTI/EXEC whole; WATCH is still redirected" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l % 3 + 1}]
    foreach proto {2 3} {
        set c [redis_client 127.0.0.1 [node_port $f]]
        if {$proto == 3} { $c hello 3 }
        $c del px:t
        assert_equal [$c multi] OK
        assert_equal [$c set px:t 1] QUEUED
        assert_equal [$c incr px:t] QUEUED
        assert_equal [$c get px:none] QUEUED
        set want [expr {$proto == 3 ? "*3\r\n+OK\r\n:2\r\n_\r\n" : "*3\r\n+OK\r\n:2\r\n\$-1\r\n"}]
        assert_equal [$c rawcmd exec] $want
        $c multi
        catch {$c nosuchcmd} e
        assert_error "EXECABORT*" {$c exec}
        set slot [ncmd $l cluster keyslot px:w]
        assert_error "MOVED $slot [node_addr $l]" {$c watch px:w}
        assert_equal [$c get px:t] 2
        $c close
    }
}
cluster_stop
