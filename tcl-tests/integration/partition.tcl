# Partitions via DEBUG RAFT-PARTITION: the old leader cut off from both
# followers cannot acknowledge writes (-CLUSTERDOWN, or no reply before the
# client gives up), the majority elects a leader and keeps acknowledging;
# after healing one leader remains and nobody lost an acknowledged write.

proc partition_isolate {lone others} {
    set ids {}
    foreach o $others { lappend ids [node_id $o] }
    assert_equal [ncmd $lone debug raft-partition {*}$ids] OK
    foreach o $others { assert_equal [ncmd $o debug raft-partition [node_id $lone]] OK }
}

proc partition_heal {} {
    foreach i $::cl::nodes { if {[node_alive $i]} { assert_equal [ncmd $i debug raft-partition] OK } }
}

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
cluster_stop
