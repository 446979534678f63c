# Failover: kill -9 the leader while acknowledged writes are recorded (some
# in flight at the moment of the kill), alone and under redis-benchmark
# load (SETs to the leader, then to the new one): a new leader is agreed within 2 election timeouts (plus 200 ms for
# polling on a loaded machine) and every acknowledged write is readable
# afterwards, on the survivors and on the old leader once it is back.

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
