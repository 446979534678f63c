# WATCH on a 3-node cluster, with the replies of Redis 7: on the leader a
# watched key touched by any applied entry (another client's write, the
# same client's write before MULTI, FLUSHALL, the leader's expiry) aborts
# the EXEC with a null array (RESP2 *-1, RESP3 _); UNWATCH, EXEC and
# DISCARD forget the keys; clients racing with optimistic increments lose
# no update. A follower redirects WATCH and EXEC with -MOVED naming the
# slot of the key, as a Redis Cluster replica; so is a write whose entry a
# new leader overwrote. Entries the leader holds but has not applied when
# an EXEC decides count as possible touches: its own eviction DEL proposed
# in the EXEC's loop iteration, and a write whose client got -CLUSTERDOWN
# on its deadline but that commits once the partition heals. An EXEC after
# a leader change since the WATCH aborts.

proc wc {i} { return [redis_client 127.0.0.1 [node_port $i]] }

test "WATCH: a write by another client aborts the EXEC (null array)" {
    cluster_start
    set l [wait_leader]
    set a [wc $l]
    set b [wc $l]
    $a set w:x 1
    assert_equal [$a watch w:x] OK
    assert_equal [$b set w:x 2] OK
    assert_equal [$a multi] OK
    assert_equal [$a set w:x 3] QUEUED
    assert_equal [$a rawcmd exec] "*-1\r\n"
    assert_equal [$a get w:x] 2
    # The keys are forgotten after EXEC: the next transaction goes through.
    $b set w:x 4
    $a multi
    $a incr w:x
    assert_equal [$a exec] 5
    $a close
    $b close
}

test "WATCH: an untouched key lets EXEC through, and RESP3 gets _ when aborted" {
    need_cluster
    set l [wait_leader]
    set a [wc $l]
    set b [wc $l]
    $a hello 3
    $a set w:y 1
    $a watch w:y
    $b set w:other 1
    $a multi
    $a incr w:y
    assert_equal [$a exec] 2
    $a watch w:y
    $b set w:y 10
    $a multi
    $a incr w:y
    assert_equal [$a rawcmd exec] "_\r\n"
    $a close
    $b close
}

test "WATCH: the same client's write before MULTI counts, UNWATCH and DISCARD forget" {
    need_cluster
    set l [wait_leader]
    set a [wc $l]
    set b [wc $l]
    $a watch w:z
    $a set w:z 1
    $a multi
    $a ping
    assert_equal [$a rawcmd exec] "*-1\r\n"
    $a watch w:z
    $b set w:z 2
    assert_equal [$a unwatch] OK
    $a multi
    $a ping
    assert_equal [$a exec] PONG
    $a watch w:z
    $b set w:z 3
    $a multi
    assert_equal [$a discard] OK
    $a multi
    $a ping
    assert_equal [$a exec] PONG
    $a close
    $b close
}

test "WATCH: FLUSHALL touches an existing watched key, not an absent one" {
    need_cluster
    set l [wait_leader]
    set a [wc $l]
    set b [wc $l]
    $a del w:absent
    $a set w:here 1
    $a watch w:absent
    $b flushall
    $a multi
    $a ping
    assert_equal [$a exec] PONG
    $a set w:here 1
    $a watch w:here
    $b flushall
    $a multi
    $a ping
    assert_equal [$a rawcmd exec] "*-1\r\n"
    $a close
    $b close
}

test "WATCH: a key that expires after WATCH aborts the EXEC" {
    need_cluster
    set l [wait_leader]
    set a [wc $l]
    $a set w:ttl 1 px 150
    $a watch w:ttl
    after 400
    $a multi
    $a ping
    assert_equal [$a rawcmd exec] "*-1\r\n"
    $a close
}

test "WATCH: errors as Redis 7 (inside MULTI, arity, EXECABORT unaffected)" {
    need_cluster
    set l [wait_leader]
    set a [wc $l]
    assert_error "ERR wrong number of arguments for 'watch' command" {$a watch}
    assert_error "ERR wrong number of arguments for 'unwatch' command" {$a unwatch x}
    $a multi
    assert_error "ERR WATCH inside MULTI is not allowed" {$a watch w:k}
    $a set w:k 1
    assert_equal [$a exec] OK
    $a close
}

# Clients racing: each round every client WATCHes the counter and reads it,
# then each in turn tries MULTI SET counter+1 EXEC. The first EXEC of a
# round wins and touches the key, so every later one in that round aborts:
# the counter ends equal to the number of successful EXECs.
test "WATCH: racing clients doing optimistic increments lose no update" {
    need_cluster
    set l [wait_leader]
    set clients {}
    for {set i 0} {$i < 4} {incr i} { lappend clients [wc $l] }
    [lindex $clients 0] set w:ctr 0
    set wins 0
    for {set round 0} {$round < 10} {incr round} {
        set seen {}
        foreach c $clients {
            $c watch w:ctr
            lappend seen [$c get w:ctr]
        }
        set won 0
        foreach c $clients v $seen {
            $c multi
            $c set w:ctr [expr {$v + 1}]
            set r [$c exec]
            if {$r eq "OK"} { incr won } else { assert_equal $r {} }
        }
        assert_equal $won 1 "(round $round: one EXEC wins)"
        incr wins $won
    }
    assert_equal [[lindex $clients 0] get w:ctr] $wins
    foreach c $clients { $c close }
    assert_digests_equal
}

# Pipelined: each client sends WATCH/GET then, without waiting, the
# MULTI/SET/EXEC of its increment, all clients at once; the EXECs whose key
# was touched by a concurrent winner's entry must abort. Every retry loop
# ends; the counter equals the increments that were acknowledged.
test "WATCH: concurrent pipelined increments from several clients stay exact" {
    need_cluster
    set l [wait_leader]
    set n 5
    set per 8
    set clients {}
    for {set i 0} {$i < $n} {incr i} { lappend clients [wc $l] }
    [lindex $clients 0] set w:pc 0
    set done [lrepeat $n 0]
    set tries 0
    while {[lsearch -exact -integer -not $done $per] >= 0 && $tries < 2000} {
        incr tries
        set vals {}
        foreach c $clients d $done {
            if {$d == $per} { lappend vals "" ; continue }
            $c watch w:pc
            lappend vals [$c get w:pc]
        }
        foreach c $clients d $done v $vals {
            if {$d == $per} continue
            $c deferred 1
            $c multi
            $c set w:pc [expr {$v + 1}]
            $c exec
        }
        set i 0
        foreach c $clients d $done {
            if {$d != $per} {
                $c read
                $c read
                set r [$c read]
                $c deferred 0
                if {$r eq "OK"} { lset done $i [expr {$d + 1}] }
            }
            incr i
        }
    }
    assert_equal [[lindex $clients 0] get w:pc] [expr {$n * $per}]
    foreach c $clients { $c close }
}

test "WATCH and EXEC on a follower get -MOVED with the key's slot" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l % 3 + 1}]
    set a [wc $f]
    set slot [ncmd $l cluster keyslot w:fk]
    assert_error "MOVED $slot [node_addr $l]" {$a watch w:fk}
    $a multi
    $a set {w:{t}f} 1
    set slot [ncmd $l cluster keyslot t]
    assert_error "MOVED $slot [node_addr $l]" {$a exec}
    $a close
}

# The new-leader window: while another node led, it may have written the
# watched key, and a leader that wins leadership back cannot tell from its
# own WATCH registry. An EXEC after any leader change since the WATCH
# aborts, whether the other leader wrote the key or not.
test "WATCH: leadership lost and won back since the WATCH aborts the EXEC" {
    need_cluster
    set l [wait_leader]
    set t [lindex [nodes_except $l] 0]
    set a [wc $l]
    $a set w:lt 1
    foreach write {1 0} {
        $a watch w:lt
        assert_equal [ncmd_timeout 20000 $l raft.transfer-leader [node_id $t]] OK
        wait_leader_moved $l $t
        if {$write} { assert_equal [ncmd $t set w:lt 2] OK }
        assert_equal [ncmd_timeout 20000 $t raft.transfer-leader [node_id $l]] OK
        wait_leader_moved $t $l
        $a multi
        $a set w:lt 3
        assert_equal [$a rawcmd exec] "*-1\r\n" "(other leader wrote: $write)"
        assert_equal [$a get w:lt] 2
    }
    # A WATCH taken in the current term goes through as before.
    $a watch w:lt
    $a multi
    $a set w:lt 3
    assert_equal [$a exec] OK
    $a close
    assert_digests_equal
}

test "a write whose entry a new leader overwrote gets -MOVED with its key's slot" {
    cluster_start -overrides {raft-write-timeout 20000}
    set l [wait_leader]
    set others [nodes_except $l]
    partition_isolate $l $others
    set a [wc $l]
    $a deferred 1
    $a set {ov:{tag}k} v
    set nl [wait_leader 10000 $others]
    foreach i $::cl::nodes { assert_equal [ncmd $i debug raft-partition] OK }
    set r ""
    catch {$a read} r
    set slot [ncmd $nl cluster keyslot tag]
    assert_match "MOVED $slot 127.0.0.1:*" $r
    $a close
    wait_leader 15000
}
# The leader's eviction DEL is proposed while the write that needed the
# memory is checked, here a SET queued in the EXEC's own MULTI: the one
# pipeline runs in one loop iteration, so the RAFT.EVICTED entry is still
# in the open batch when EXEC decides. The EXEC goes behind it in the log,
# so it must see it: Redis evicts in processCommand and touches the key.
test "WATCH: an eviction proposed in the EXEC's own loop iteration aborts it" {
    if {![llength $::cl::nodes]} { cluster_start }
    set l [wait_leader]
    set a [wc $l]
    $a flushall
    $a set w:ev [string repeat v 1000]
    assert_equal [$a config set maxmemory-policy allkeys-lru] OK
    assert_equal [$a config set maxmemory 1] OK
    set pipe [::rc::encode {watch w:ev}][::rc::encode {multi}]
    append pipe [::rc::encode {set w:other 1}][::rc::encode {exec}]
    $a write $pipe
    assert_equal [$a read] OK
    assert_equal [$a read] OK
    assert_equal [$a read] QUEUED
    set r [$a rawread]
    assert_equal [$a config set maxmemory 0] OK
    assert_equal $r "*-1\r\n"
    assert_equal [$a exists w:ev] 0
    $a close
}

# A write whose reply timed out (-CLUSTERDOWN after raft-write-timeout)
# is still in the leader's log and commits once the leader reaches a
# majority again. A WATCH issued meanwhile saw the old value, so the
# write's later apply is a touch after the WATCH: the EXEC decided before
# it must not commit behind it.
test "WATCH: a write that timed out but commits later aborts the EXEC" {
    cluster_start -overrides {raft-election-timeout 4000 raft-write-timeout 400}
    set l [wait_leader 30000]
    set a [wc $l]
    set b [wc $l]
    $a set w:late 1
    wait_converged
    partition_isolate $l [nodes_except $l]
    catch {$b set w:late 2} r
    assert_match "CLUSTERDOWN*" $r
    assert_equal [$a watch w:late] OK
    $a multi
    $a set w:late 3
    $a deferred 1
    $a exec
    after 50
    foreach i $::cl::nodes { assert_equal [ncmd $i debug raft-partition] OK }
    set r [$a rawread]
    $a deferred 0
    assert_equal $r "*-1\r\n"
    wait_converged
    assert_equal [$a get w:late] 2
    $a close
    $b close
}
cluster_stop
