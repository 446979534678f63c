# The keyspace at scale: large values built in pieces, many keys loaded by
# pipelining, mass expiry, counters in INFO, and memory given back on flush.

# Pipeline COUNT commands built by CMDPROC (called with the index) on a raw
# connection and check every reply equals REPLY.
proc pipeline_all {count cmdproc reply} {
    set fd [raw_connect]
    fconfigure $fd -blocking 1
    set req ""
    for {set i 0} {$i < $count} {incr i} {
        append req [::rc::encode [$cmdproc $i]]
        if {[string length $req] > 65536} { puts -nonewline $fd $req; set req "" }
    }
    puts -nonewline $fd $req
    flush $fd
    fconfigure $fd -blocking 0
    set want [string repeat $reply $count]
    set got [raw_read_n $fd [string length $want] 60000]
    raw_close $fd
    assert_equal [string length $got] [string length $want]
    assert {$got eq $want} "replies differ"
}

proc set_key_cmd {i} { return [list SET key:[format %012d $i] [string repeat v 64]] }
proc set_ttl_cmd {i} { return [list SET ttl:$i v PX [expr {100 + $i % 200}]] }

start_server {tags {keyspace}} {
    test {A 16 MB value round-trips} {
        set v [string repeat "abcdefghijklmnop" 1048576]
        r set big $v
        assert_equal [r strlen big] 16777216
        assert {[r get big] eq $v}
        assert_equal [r getrange big 16777200 -1] "abcdefghijklmnop"
        r del big
    }

    test {APPEND grows a value past 1 MB piece by piece} {
        r del grow
        set piece [string repeat x 10000]
        for {set i 0} {$i < 300} {incr i} { r append grow $piece }
        assert_equal [r strlen grow] 3000000
        assert_equal [r getrange grow 2999995 -1] xxxxx
        r append grow END
        assert_equal [r getrange grow -3 -1] END
    }

    test {SETRANGE far past the end of a small value} {
        r set sr abc
        assert_equal [r setrange sr 5000000 Z] 5000001
        assert_equal [r getrange sr 0 3] "abc\x00"
        assert_equal [r getrange sr 4999999 -1] "\x00Z"
    }

    test {SETRANGE inside a large value keeps the rest} {
        r set lv [string repeat a 2000000]
        r setrange lv 1000000 XYZ
        assert_equal [r getrange lv 999999 1000003] aXYZa
        assert_equal [r strlen lv] 2000000
    }

    test {100,000 keys loaded by pipelining are all there} {
        r flushall
        pipeline_all 100000 set_key_cmd "+OK\r\n"
        assert_equal [r dbsize] 100000
        assert_equal [r get key:000000099999] [string repeat v 64]
        assert_equal [r exists key:000000000000 key:000000050000 key:000000100000] 2
    }

    test {KEYS and SCAN see all 100,000 keys} {
        assert_equal [llength [r keys key:*]] 100000
        set cursor 0
        set n 0
        set rounds 0
        while 1 {
            lassign [r scan $cursor count 1000] cursor batch
            incr n [llength $batch]
            if {$cursor == 0 || [incr rounds] > 10000} break
        }
        assert_range $n 100000 100100
    }

    test {FLUSHALL gives memory back} {
        set before [info_field [r info memory] used_memory]
        r flushall
        set after [info_field [r info memory] used_memory]
        assert_equal [r dbsize] 0
        assert {$after < $before - 5000000} "used_memory $before -> $after"
    }

    test {10,000 keys with short TTLs all expire without being read} {
        r flushall
        r config resetstat
        pipeline_all 10000 set_ttl_cmd "+OK\r\n"
        wait_for_condition 100 100 {[r dbsize] == 0} "keys left after expiry"
        assert_equal [info_field [r info stats] expired_keys] 10000
    }

    test {The server answers promptly while many keys expire} {
        pipeline_all 10000 set_ttl_cmd "+OK\r\n"
        set worst 0
        for {set i 0} {$i < 30} {incr i} {
            set t [clock microseconds]
            r ping
            set worst [expr {max($worst, [clock microseconds] - $t)}]
            after 10
        }
        # Generous bound: the expire cycle must be incremental, not a stall.
        assert {$worst < 250000} "a PING took $worst us"
        wait_for_condition 100 100 {[r dbsize] == 0}
    }

    test {INFO stats counts connections and commands} {
        set info [r info stats]
        set conns [info_field $info total_connections_received]
        set cmds [info_field $info total_commands_processed]
        set c [new_client]
        $c ping
        $c close
        set info [r info stats]
        assert_equal [info_field $info total_connections_received] [expr {$conns + 1}]
        assert {[info_field $info total_commands_processed] >= $cmds + 2}
    }
}

start_server {tags {keyspace external:skip} overrides {maxclients 2}} {
    test {INFO stats counts rejected connections} {
        set before [info_field [r info stats] rejected_connections]
        set a [new_client]
        $a ping
        set fd [raw_connect]
        raw_send $fd "PING\r\n"
        lassign [raw_read_until_quiet $fd 200 2000] buf closed
        raw_close $fd
        $a close
        assert_equal $buf "-ERR max number of clients reached\r\n"
        assert_equal [info_field [r info stats] rejected_connections] [expr {$before + 1}]
    }
}

start_server {tags {keyspace external:skip}} {
    test {SHUTDOWN closes the connection without a reply} {
        r ping
        set pid [srv pid]
        set fd [raw_connect]
        raw_send $fd "SHUTDOWN\r\n"
        lassign [raw_read_until_quiet $fd 2000 5000] buf closed
        raw_close $fd
        assert_equal $buf ""
        assert_equal $closed 1
        wait_for_condition 50 100 {![::srv::alive $pid]}
        server_stopped_on_purpose
    }
}

start_server {tags {keyspace slow}} {
    test {SCAN returns every key present throughout while the keyspace grows to 1,000,000} {
        r flushall
        pipeline_all 200000 set_key_cmd "+OK\r\n"
        set seen [dict create]
        set cursor 0
        set next 200000
        set rounds 0
        while 1 {
            lassign [r scan $cursor count 500] cursor batch
            foreach k $batch { dict set seen $k 1 }
            # Keep growing the table (and so rehashing) between SCAN calls.
            if {$next < 1000000} {
                set fd [raw_connect]
                fconfigure $fd -blocking 1
                set req ""
                for {set i 0} {$i < 4000} {incr i} { append req [::rc::encode [set_key_cmd [expr {$next + $i}]]] }
                puts -nonewline $fd $req
                flush $fd
                fconfigure $fd -blocking 0
                raw_read_n $fd [expr {5 * 4000}] 30000
                raw_close $fd
                incr next 4000
            }
            if {$cursor == 0 || [incr rounds] > 100000} break
        }
        set missing 0
        for {set i 0} {$i < 200000} {incr i} {
            if {![dict exists $seen key:[format %012d $i]]} { incr missing }
        }
        assert_equal $missing 0
    }
}
