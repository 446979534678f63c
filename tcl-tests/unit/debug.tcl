# DEBUG and MEMORY: lazy expiry with the active cycle switched off, the
# keyspace digest, and raftcache's own MEMORY SLABS and DEBUG JUMP-CLOCK
# (tagged raftcache-only: skipped when the server is redis-server).

start_server {tags {debug external:skip} overrides {enable-debug-command yes}} {
    test {With active expiry off, expired keys go only when touched} {
        r flushall
        r debug set-active-expire 0
        for {set i 0} {$i < 100} {incr i} { r set lz:$i v px 50 }
        after 300
        # DBSIZE counts keys whose TTL passed but nobody has read.
        assert_equal [r dbsize] 100
        for {set i 0} {$i < 50} {incr i} { assert_equal [r rawcmd get lz:$i] "\$-1\r\n" }
        assert_equal [r dbsize] 50
        r debug set-active-expire 1
        wait_for_condition 50 100 {[r dbsize] == 0} "active expiry did not resume"
    }

    test {DEBUG DIGEST depends on the data, not on the order it was written} {
        r flushall
        set empty [r debug digest]
        assert_equal $empty [string repeat 0 40]
        r set a 1
        r set b 2
        set d1 [r debug digest]
        r flushall
        r set b 2
        r set a 1
        assert_equal [r debug digest] $d1
        r set a 3
        assert_not_equal [r debug digest] $d1
    }

    test {DEBUG JUMP-CLOCK moves the clock TTLs are measured against} {
        r flushall
        r set k v ex 100
        r set keep v
        r debug jump-clock 101000
        assert_equal [r rawcmd get k] "\$-1\r\n"
        assert_equal [r get keep] v
        r set k2 v ex 100
        r debug jump-clock -50000
        assert_range [r ttl k2] 149 150
    } {raftcache-only}

    test {MEMORY SLABS describes the allocator and its classes} {
        r flushall
        set s [r memory slabs]
        assert_equal [lrange [dict keys $s] 0 end] {held used pages free_pages large_count large_bytes requested classes}
        set c [new_client]
        $c hello 3
        assert_match "%8\r\n*" [$c rawcmd memory slabs]
        $c close
    } {raftcache-only}

    test {MEMORY SLABS used bytes follow the values stored} {
        r flushall
        set before [dict get [r memory slabs] used]
        for {set i 0} {$i < 1000} {incr i} { r set slab:$i [string repeat x 100] }
        set during [dict get [r memory slabs] used]
        assert {$during >= $before + 100000} "used $before -> $during"
        set classes [dict get [r memory slabs] classes]
        assert {[llength $classes] >= 1}
        foreach cl $classes {
            foreach f {class chunk_size chunks_per_page pages used_chunks free_chunks requested} {
                assert {[dict exists $cl $f]} "class entry lacks $f"
            }
        }
        r flushall
        assert {[dict get [r memory slabs] used] <= $before} "used stays [dict get [r memory slabs] used] after FLUSHALL"
    } {raftcache-only}

    test {MEMORY USAGE of a key and of a missing key} {
        r set mu [string repeat x 1000]
        assert_range [r memory usage mu] 1000 2000
        assert_equal [r rawcmd memory usage nokey] "\$-1\r\n"
    }
}

start_server {tags {debug external:skip} overrides {enable-debug-command yes client-query-buffer-limit 1mb}} {
    test {A query over client-query-buffer-limit that piles up while the server is busy closes the connection} {
        r del qb
        set busy [new_client]
        $busy deferred 1
        # While the server sleeps, the whole query lands in its socket at once.
        $busy debug sleep 0.5
        set n 1500000
        set got [raw_exchange "*3\r\n\$3\r\nSET\r\n\$2\r\nqb\r\n\$$n\r\n[string repeat x $n]\r\n" 1000]
        assert_equal [$busy read] OK
        $busy close
        assert_equal $got "<closed>"
        assert_equal [r exists qb] 0
    }
}
