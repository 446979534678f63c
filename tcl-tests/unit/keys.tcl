# Keyspace commands: DEL EXISTS TYPE KEYS SCAN RANDOMKEY RENAME TOUCH OBJECT
# DBSIZE FLUSHDB FLUSHALL SELECT, replies and errors as Redis 7 gives them.

start_server {tags {keys}} {
    test {DEL of one and many keys} {
        r mset a 1 b 2 c 3
        assert_equal [r del a] 1
        assert_equal [r del a b c d] 2
        assert_equal [r del a] 0
    }

    test {DEL counts a repeated key once} {
        r set a 1
        assert_equal [r del a a a] 1
    }

    test {UNLINK} {
        r mset a 1 b 2
        assert_equal [r unlink a b c] 2
        assert_equal [r exists a b] 0
    }

    test {EXISTS counts repeated keys each time} {
        r flushall
        r set a 1
        assert_equal [r exists a] 1
        assert_equal [r exists a a b] 2
        assert_equal [r exists b] 0
    }

    test {TYPE} {
        r set a 1
        assert_equal [r type a] string
        assert_equal [r type nokey] none
        assert_equal [r rawcmd type a] "+string\r\n"
    }

    test {KEYS with patterns} {
        r flushall
        r mset foo 1 foobar 2 bar 3 "f*o" 4 hello 5 hallo 6 hxllo 7
        assert_equal [lsort [r keys *]] [lsort {foo foobar bar f*o hello hallo hxllo}]
        assert_equal [lsort [r keys foo*]] {foo foobar}
        assert_equal [lsort [r keys h?llo]] {hallo hello hxllo}
        assert_equal [lsort [r keys h\[ae\]llo]] {hallo hello}
        assert_equal [lsort [r keys h\[^e\]llo]] {hallo hxllo}
        assert_equal [lsort [r keys h\[a-b\]llo]] {hallo}
        assert_equal [r keys f\\*o] {f*o}
        assert_equal [r keys nomatch*] {}
    }

    test {KEYS on an empty keyspace is an empty array} {
        r flushall
        assert_equal [r rawcmd keys *] "*0\r\n"
    }

    test {DBSIZE} {
        r flushall
        assert_equal [r dbsize] 0
        r mset a 1 b 2 c 3
        assert_equal [r dbsize] 3
        r del a
        assert_equal [r dbsize] 2
    }

    test {FLUSHDB and FLUSHALL, with ASYNC and SYNC} {
        r mset a 1 b 2
        assert_equal [r flushdb] OK
        assert_equal [r dbsize] 0
        r mset a 1 b 2
        assert_equal [r flushall] OK
        assert_equal [r dbsize] 0
        r set a 1
        assert_equal [r flushall async] OK
        assert_equal [r flushdb sync] OK
        assert_equal [r dbsize] 0
        assert_error {ERR syntax error} {r flushall foo}
    }

    test {RANDOMKEY} {
        r flushall
        assert_equal [r rawcmd randomkey] "\$-1\r\n"
        r set a 1
        assert_equal [r randomkey] a
        r mset b 2 c 3
        set seen {}
        for {set i 0} {$i < 100} {incr i} { dict set seen [r randomkey] 1 }
        assert_equal [lsort [dict keys $seen]] {a b c}
    }

    test {RENAME} {
        r flushall
        r set a 1
        assert_equal [r rename a b] OK
        assert_equal [r exists a] 0
        assert_equal [r get b] 1
    }

    test {RENAME overwrites the target and moves the TTL} {
        r set a 1 ex 100
        r set b 2
        r rename a b
        assert_equal [r get b] 1
        assert_range [r ttl b] 99 100
        r set c 3
        r set b 4 ex 100
        r rename c b
        assert_equal [r ttl b] -1
    }

    test {RENAME of a missing key} {
        r del a
        assert_error {ERR no such key} {r rename a b}
        assert_error {ERR no such key} {r renamenx a b}
    }

    test {RENAME to itself} {
        r set a 1
        assert_equal [r rename a a] OK
        assert_equal [r get a] 1
        assert_equal [r renamenx a a] 0
        assert_error {ERR no such key} {r rename nokey nokey}
    }

    test {RENAMENX} {
        r flushall
        r mset a 1 b 2
        assert_equal [r renamenx a b] 0
        assert_equal [r get b] 2
        assert_equal [r renamenx a c] 1
        assert_equal [r get c] 1
        assert_equal [r exists a] 0
    }

    test {TOUCH} {
        r flushall
        r mset a 1 b 2
        assert_equal [r touch a b c] 2
        assert_equal [r touch c] 0
    }

    test {OBJECT ENCODING} {
        r set n 12345
        assert_equal [r object encoding n] int
        r set s hello
        assert_equal [r object encoding s] embstr
        r set l [string repeat x 45]
        assert_equal [r object encoding l] raw
        r set e [string repeat x 44]
        assert_equal [r object encoding e] embstr
        r set big 12345678901234567890
        assert_equal [r object encoding big] embstr
        r set neg -42
        assert_equal [r object encoding neg] int
        assert_equal [r rawcmd object encoding nokey] "\$-1\r\n"
    }

    test {OBJECT ENCODING after APPEND is raw} {
        r set s hello
        r append s x
        assert_equal [r object encoding s] raw
    }

    test {OBJECT IDLETIME} {
        r set a 1
        assert_range [r object idletime a] 0 2
        assert_equal [r rawcmd object idletime nokey] "\$-1\r\n"
    }

    test {OBJECT IDLETIME: reads reset it, TYPE/EXISTS/TTL do not} {
        r set idle v
        after 2100
        r type idle
        r exists idle
        r ttl idle
        assert_range [r object idletime idle] 1 3
        r get idle
        # seconds on the LRU clock: it may tick between the two commands
        assert_range [r object idletime idle] 0 1
    }

    test {OBJECT FREQ under an LFU policy} {
        r config set maxmemory-policy allkeys-lfu
        r del lfu
        r set lfu v
        assert_equal [r object freq lfu] 5
        r get lfu
        assert_equal [r object freq lfu] 6
        r config set maxmemory-policy noeviction
    }

    test {OBJECT FREQ needs an LFU policy} {
        r set a 1
        assert_error {ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.} {r object freq a}
    }

    test {OBJECT with an unknown subcommand} {
        assert_error {ERR unknown subcommand 'foo'. Try OBJECT HELP.} {r object foo a}
        assert_error {ERR wrong number of arguments for 'object|encoding' command} {r object encoding}
    }

    test {SELECT 0 works, SELECT 1 is out of range with one database} {
        assert_equal [r select 0] OK
        assert_error {ERR DB index is out of range} {r select 1}
        assert_error {ERR value is not an integer or out of range} {r select x}
        assert_error {ERR DB index is out of range} {r select -1}
    }

    test {SCAN returns every key exactly as a full iteration} {
        r flushall
        for {set i 0} {$i < 1000} {incr i} { r set key:$i $i }
        set cursor 0
        set keys {}
        set rounds 0
        while 1 {
            lassign [r scan $cursor] cursor batch
            lappend keys {*}$batch
            incr rounds
            if {$cursor == 0 || $rounds > 2000} break
        }
        assert_equal [llength [lsort -unique $keys]] 1000
    }

    test {SCAN with COUNT} {
        set cursor 0
        set keys {}
        set rounds 0
        while 1 {
            lassign [r scan $cursor count 100] cursor batch
            lappend keys {*}$batch
            incr rounds
            if {$cursor == 0 || $rounds > 2000} break
        }
        assert_equal [llength [lsort -unique $keys]] 1000
        assert {$rounds < 100}
    }

    test {SCAN with MATCH} {
        set cursor 0
        set keys {}
        while 1 {
            lassign [r scan $cursor match key:1?? count 50] cursor batch
            lappend keys {*}$batch
            if {$cursor == 0} break
        }
        assert_equal [llength [lsort -unique $keys]] 100
        foreach k $keys { assert_match key:1?? $k }
    }

    test {SCAN with TYPE} {
        set cursor 0
        set n 0
        while 1 {
            lassign [r scan $cursor type string count 100] cursor batch
            incr n [llength $batch]
            if {$cursor == 0} break
        }
        assert_equal $n 1000
        set cursor 0
        set n 0
        while 1 {
            lassign [r scan $cursor type list count 100] cursor batch
            incr n [llength $batch]
            if {$cursor == 0} break
        }
        assert_equal $n 0
    }

    test {SCAN reply shape} {
        r flushall
        r set a 1
        assert_equal [r rawcmd scan 0] "*2\r\n\$1\r\n0\r\n*1\r\n\$1\r\na\r\n"
        r flushall
        assert_equal [r rawcmd scan 0] "*2\r\n\$1\r\n0\r\n*0\r\n"
    }

    test {SCAN errors} {
        assert_error {ERR invalid cursor} {r scan abc}
        # Redis parses the cursor as unsigned: "-1" wraps to the largest
        # cursor, which ends the iteration at once.
        assert_equal [r scan -1] {0 {}}
        assert_error {ERR syntax error} {r scan 0 count 0}
        assert_error {ERR value is not an integer or out of range} {r scan 0 count x}
        assert_error {ERR syntax error} {r scan 0 foo}
        assert_error {ERR syntax error} {r scan 0 match}
    }

    test {SCAN with a huge cursor ends the iteration} {
        lassign [r scan 18446744073709551615] cursor batch
        assert_equal $cursor 0
    }

    test {SCAN guarantees keys present for the whole scan while the keyspace grows} {
        r flushall
        for {set i 0} {$i < 200} {incr i} { r set old:$i $i }
        set cursor 0
        set keys {}
        set j 0
        set rounds 0
        while 1 {
            lassign [r scan $cursor count 10] cursor batch
            lappend keys {*}$batch
            # Grow the keyspace between calls so the table rehashes mid-scan.
            if {$j < 3000} {
                for {set k 0} {$k < 50} {incr k} { r set new:[incr j] x }
            }
            incr rounds
            if {$cursor == 0 || $rounds > 5000} break
        }
        set found 0
        foreach k [lsort -unique $keys] { if {[string match old:* $k]} { incr found } }
        assert_equal $found 200
    }

    test {Wrong arity of key commands} {
        foreach {cmd args} {
            del {} unlink {} exists {} type {} keys {} randomkey {a}
            rename {a} renamenx {a} touch {} dbsize {a} select {} scan {}
        } {
            assert_error "ERR wrong number of arguments for '$cmd' command" [list r $cmd {*}$args]
        }
    }

    # Redis 7.0's addReplyCommandSubCommands: an empty set when a command
    # has no subcommands, an array when it has some (RESP3 shows "~0", "*N").
    # The subcommands themselves come in the order of a randomly seeded
    # dict in Redis, so only the headers are compared.
    test {COMMAND INFO in RESP3: subcommands are an array, none an empty set} {
        set c [new_client]
        $c rawcmd hello 3
        set raw [$c rawcmd command info object get]
        $c close
        # OBJECT's fields 7-10: tips, key specs (empty sets), subcommands.
        assert {[string first "+@slow\r\n~0\r\n~0\r\n*5\r\n*10\r\n" $raw] > 0}
        # GET's subcommands: the last field of the reply, an empty set.
        assert {[string range $raw end-3 end] eq "~0\r\n"}
    }
}
