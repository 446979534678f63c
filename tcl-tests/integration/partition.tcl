# Partitions via DEBUG RAFT-PARTITION: the old leader cut off from both
# followers cannot acknowledge writes (-CLUSTERDOWN, or no reply before the
# client gives up), the majority elects a leader and keeps acknowledging;
# after healing one leader remains and nobody lost an acknowledged write.
# The cut-off old leader never answers a linearizable or lease read with a
# value the majority has since overwritten.

test "an isolated leader cannot acknowledge writes; the majority elects a new leader" {
    cluster_start
    rec_reset
    rec_write 100
    set l [wait_leader]
    set others {}
    foreach i $::cl::nodes { if {$i != $l} { lappend others $i } }
    partition_isolate $l $others
    set t0 [clock milliseconds]
    set r ""
    catch {ncmd_timeout 4000 $l set minority:k v} r
    assert {$r ne "OK"} "(the isolated leader acknowledged a write)"
    assert {[string match "CLUSTERDOWN*" $r] || [string match "*timeout*" $r]
            || [string match "MOVED*" $r]} "(unexpected reply '$r')"
    set nl [wait_leader 10000 $others]
    puts "    majority leader node $nl [expr {[clock milliseconds] - $t0}] ms after the cut"
    set ::cl::exclude [list $l]
    rec_write 200
    set ::cl::exclude {}
    # The cut-off node may still think it leads; it must not acknowledge.
    catch {ncmd_timeout 3000 $l set minority:k2 v} r
    assert {$r ne "OK"} "(the isolated node acknowledged a write after the new election)"
}

test "after healing the partition one leader remains and no acknowledged write is lost" {
    need_cluster
    partition_heal
    set l [wait_leader 15000]
    assert_acked_readable
    assert_digests_equal
    foreach i $::cl::nodes { assert_acked_on_node $i }
}

test "an isolated follower cannot serve writes and catches up after healing" {
    need_cluster
    set l [wait_leader]
    set f [expr {$l % 3 + 1}]
    set others {}
    foreach i $::cl::nodes { if {$i != $f} { lappend others $i } }
    partition_isolate $f $others
    rec_write 100
    catch {ncmd_timeout 4000 $f set isolated:k v} r
    assert {$r ne "OK"} "(the isolated follower acknowledged a write)"
    partition_heal
    wait_leader 15000
    assert_digests_equal
    assert_acked_on_node $f
}
# Read from node I over a fresh connection in MODE: the value, or "error:
# <text>" when an error or no reply within 3 s came back (not served).
proc read_in_mode {i mode key} {
    set c [redis_client 127.0.0.1 [node_port $i]]
    set v ""
    catch {
        $c client consistency $mode
        set saved $::rc::timeout_ms
        set ::rc::timeout_ms 3000
        set code [catch {$c get $key} r]
        set ::rc::timeout_ms $saved
        set v [expr {$code ? "error: $r" : $r}]
    } e
    if {$v eq ""} { set v "error: $e" }
    catch {$c close}
    return $v
}

test "an isolated old leader serves no stale read (linearizable and lease)" {
    need_cluster
    assert_equal [ccall set lin:k old] OK
    wait_converged
    set l [wait_leader]
    set others {}
    foreach i $::cl::nodes { if {$i != $l} { lappend others $i } }
    partition_isolate $l $others
    wait_leader 10000 $others
    set ::cl::exclude [list $l]
    set r [ccall set lin:k new]
    set ::cl::exclude {}
    assert_equal $r OK
    set lin [read_in_mode $l linearizable lin:k]
    set lease [read_in_mode $l lease lin:k]
    partition_heal
    puts "    old leader answered: linearizable '$lin', lease '$lease'"
    assert_not_equal $lin old
    assert_not_equal $lease old
    wait_leader 15000
    assert_equal [ccall get lin:k] new
    assert_digests_equal
}
cluster_stop

# A leader paused (SIGSTOP: a stalled VM, a swapped-out process) right
# after it was cut off, while the others elect a new leader and take a
# write, then resumed with reads already waiting in its sockets: the first
# thing it does after the pause is to answer them, and it must not do so
# from its old state, whatever its lease said before the pause.
test "a paused old leader resumed with reads queued serves no stale read" {
    cluster_start
    assert_equal [ccall set pause:k old] OK
    wait_converged
    set l [wait_leader]
    set clients {}
    foreach mode {lease linearizable} {
        set c [redis_client 127.0.0.1 [node_port $l]]
        assert_equal [$c client consistency $mode] OK
        $c deferred 1
        lappend clients $c
    }
    partition_isolate $l [nodes_except $l]
    exec kill -STOP [node_pid $l]
    if {[catch {
        wait_leader 10000 [nodes_except $l]
        set ::cl::exclude [list $l]
        assert_equal [ccall set pause:k new] OK
        set ::cl::exclude {}
        foreach c $clients { $c get pause:k }
    } e]} {
        exec kill -CONT [node_pid $l]
        error $e
    }
    exec kill -CONT [node_pid $l]
    set saved $::rc::timeout_ms
    set ::rc::timeout_ms 5000
    set got {}
    foreach c $clients {
        if {[catch {$c read} r]} { set r "error: $r" }
        lappend got $r
        catch {$c close}
    }
    set ::rc::timeout_ms $saved
    partition_heal
    puts "    resumed old leader answered: lease '[lindex $got 0]', linearizable '[lindex $got 1]'"
    foreach r $got { assert_not_equal $r old }
    wait_leader 15000
    assert_equal [ccall get pause:k] new
    wait_converged
    assert_digests_equal
}
cluster_stop
