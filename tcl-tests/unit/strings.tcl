# String commands: replies and error texts as Redis 7 gives them.

start_server {tags {strings}} {
    test {SET and GET a value} {
        r del foo
        assert_equal [r set foo bar] OK
        assert_equal [r get foo] bar
    }

    test {GET of a missing key is a null bulk} {
        r del nokey
        assert_equal [r rawcmd get nokey] "\$-1\r\n"
    }

    test {SET and GET an empty value} {
        r set empty ""
        assert_equal [r rawcmd get empty] "\$0\r\n\r\n"
    }

    test {SET and GET binary-safe values} {
        set v "a\r\nb\x00c\xff"
        r set bin $v
        assert_equal [r get bin] $v
        assert_equal [r strlen bin] 7
    }

    test {SET and GET a 1 MB value} {
        set v [string repeat "0123456789abcdef" 65536]
        r set big $v
        assert_equal [r get big] $v
    }

    test {SET overwrites and clears a TTL} {
        r set foo bar ex 100
        r set foo baz
        assert_equal [r ttl foo] -1
        assert_equal [r get foo] baz
    }

    test {SET EX sets a TTL in seconds} {
        r set foo bar ex 100
        assert_range [r ttl foo] 99 100
    }

    test {SET PX sets a TTL in milliseconds} {
        r set foo bar px 100000
        assert_range [r pttl foo] 99000 100000
    }

    test {SET EXAT and PXAT set an absolute expiry} {
        set at [expr {[clock seconds] + 200}]
        r set foo bar exat $at
        assert_range [r ttl foo] 198 200
        assert_equal [r expiretime foo] $at
        r set foo bar pxat [expr {$at * 1000}]
        assert_equal [r pexpiretime foo] [expr {$at * 1000}]
    }

    test {SET EX with a past EXAT deletes the key} {
        r set foo bar
        assert_equal [r set foo bar exat 1] OK
        assert_equal [r exists foo] 0
    }

    test {SET NX only sets a missing key} {
        r del foo
        assert_equal [r set foo a nx] OK
        assert_equal [r rawcmd set foo b nx] "\$-1\r\n"
        assert_equal [r get foo] a
    }

    test {SET XX only sets an existing key} {
        r del foo
        assert_equal [r rawcmd set foo a xx] "\$-1\r\n"
        assert_equal [r exists foo] 0
        r set foo a
        assert_equal [r set foo b xx] OK
        assert_equal [r get foo] b
    }

    test {SET KEEPTTL keeps the TTL} {
        r set foo bar ex 100
        r set foo baz keepttl
        assert_range [r ttl foo] 99 100
        assert_equal [r get foo] baz
    }

    test {SET GET returns the old value} {
        r del foo
        assert_equal [r rawcmd set foo a get] "\$-1\r\n"
        assert_equal [r set foo b get] a
        assert_equal [r get foo] b
    }

    test {SET GET with NX (allowed since Redis 7)} {
        r set foo a
        assert_equal [r set foo b nx get] a
        assert_equal [r get foo] a
        r del foo
        assert_equal [r rawcmd set foo b nx get] "\$-1\r\n"
        assert_equal [r get foo] b
    }

    test {SET GET with XX on a missing key} {
        r del foo
        assert_equal [r rawcmd set foo b xx get] "\$-1\r\n"
        assert_equal [r exists foo] 0
    }

    test {SET options are case-insensitive} {
        r set foo bar Ex 100
        assert_range [r ttl foo] 99 100
    }

    test {SET with NX and XX together is a syntax error} {
        assert_error {ERR syntax error} {r set foo bar nx xx}
    }

    test {SET with EX and PX together is a syntax error} {
        assert_error {ERR syntax error} {r set foo bar ex 10 px 1000}
    }

    test {SET with KEEPTTL and EX is a syntax error} {
        assert_error {ERR syntax error} {r set foo bar keepttl ex 10}
    }

    test {SET with an unknown option is a syntax error} {
        assert_error {ERR syntax error} {r set foo bar foo}
    }

    test {SET EX without a value is a syntax error} {
        assert_error {ERR syntax error} {r set foo bar ex}
    }

    test {SET EX with a non-integer is an error} {
        assert_error {ERR value is not an integer or out of range} {r set foo bar ex abc}
    }

    test {SET EX 0 and negative are invalid expire times} {
        assert_error {ERR invalid expire time in 'set' command} {r set foo bar ex 0}
        assert_error {ERR invalid expire time in 'set' command} {r set foo bar ex -1}
        assert_error {ERR invalid expire time in 'set' command} {r set foo bar px 0}
    }

    test {SET EX that overflows is an invalid expire time} {
        assert_error {ERR invalid expire time in 'set' command} {r set foo bar ex 9223372036854775807}
    }

    test {SET with wrong arity} {
        assert_error {ERR wrong number of arguments for 'set' command} {r set foo}
    }

    test {GET with wrong arity} {
        assert_error {ERR wrong number of arguments for 'get' command} {r get}
        assert_error {ERR wrong number of arguments for 'get' command} {r get a b}
    }

    test {SETNX} {
        r del foo
        assert_equal [r setnx foo a] 1
        assert_equal [r setnx foo b] 0
        assert_equal [r get foo] a
    }

    test {SETNX does not touch a key with a TTL} {
        r set foo a ex 100
        assert_equal [r setnx foo b] 0
        assert_range [r ttl foo] 99 100
    }

    test {SETEX and PSETEX} {
        assert_equal [r setex foo 100 bar] OK
        assert_range [r ttl foo] 99 100
        assert_equal [r psetex foo 100000 baz] OK
        assert_range [r pttl foo] 99000 100000
        assert_equal [r get foo] baz
    }

    test {SETEX with a bad expire time} {
        assert_error {ERR invalid expire time in 'setex' command} {r setex foo 0 bar}
        assert_error {ERR invalid expire time in 'setex' command} {r setex foo -10 bar}
        assert_error {ERR invalid expire time in 'psetex' command} {r psetex foo 0 bar}
        assert_error {ERR value is not an integer or out of range} {r setex foo x bar}
    }

    test {GETSET returns the old value and clears the TTL} {
        r set foo a ex 100
        assert_equal [r getset foo b] a
        assert_equal [r ttl foo] -1
        r del foo
        assert_equal [r rawcmd getset foo c] "\$-1\r\n"
        assert_equal [r get foo] c
    }

    test {GETDEL} {
        r set foo bar
        assert_equal [r getdel foo] bar
        assert_equal [r exists foo] 0
        assert_equal [r rawcmd getdel foo] "\$-1\r\n"
    }

    test {GETEX without options leaves the TTL} {
        r set foo bar ex 100
        assert_equal [r getex foo] bar
        assert_range [r ttl foo] 99 100
    }

    test {GETEX EX, PX, EXAT, PXAT} {
        r set foo bar
        assert_equal [r getex foo ex 100] bar
        assert_range [r ttl foo] 99 100
        assert_equal [r getex foo px 50000] bar
        assert_range [r pttl foo] 49000 50000
        set at [expr {[clock seconds] + 300}]
        r getex foo exat $at
        assert_equal [r expiretime foo] $at
        r getex foo pxat [expr {$at * 1000 + 5}]
        assert_equal [r pexpiretime foo] [expr {$at * 1000 + 5}]
    }

    test {GETEX PERSIST removes the TTL} {
        r set foo bar ex 100
        assert_equal [r getex foo persist] bar
        assert_equal [r ttl foo] -1
    }

    test {GETEX on a missing key} {
        r del foo
        assert_equal [r rawcmd getex foo ex 10] "\$-1\r\n"
    }

    test {GETEX errors} {
        r set foo bar
        assert_error {ERR syntax error} {r getex foo ex 10 px 100}
        assert_error {ERR syntax error} {r getex foo persist ex 10}
        assert_error {ERR syntax error} {r getex foo bad}
        assert_error {ERR invalid expire time in 'getex' command} {r getex foo ex 0}
        assert_error {ERR invalid expire time in 'getex' command} {r getex foo ex -1}
        assert_error {ERR value is not an integer or out of range} {r getex foo ex x}
    }

    test {GETEX with a past EXAT deletes the key} {
        r set foo bar
        assert_equal [r getex foo exat 1] bar
        assert_equal [r exists foo] 0
    }

    test {MSET and MGET} {
        r del a b c
        assert_equal [r mset a 1 b 2] OK
        assert_equal [r rawcmd mget a b c] "*3\r\n\$1\r\n1\r\n\$1\r\n2\r\n\$-1\r\n"
    }

    test {MSET with an odd number of arguments} {
        assert_error {ERR wrong number of arguments for 'mset' command} {r mset a 1 b}
        assert_error {ERR wrong number of arguments for 'mset' command} {r mset a}
    }

    test {MSET with a repeated key keeps the last value} {
        r mset a 1 a 2
        assert_equal [r get a] 2
    }

    test {MSET clears TTLs} {
        r set a 1 ex 100
        r mset a 2
        assert_equal [r ttl a] -1
    }

    test {MSETNX sets all or nothing} {
        r del x1 x2 x3
        assert_equal [r msetnx x1 a x2 b] 1
        assert_equal [r msetnx x2 c x3 d] 0
        assert_equal [r exists x3] 0
        assert_equal [r get x2] b
        assert_error {ERR wrong number of arguments for 'msetnx' command} {r msetnx x1}
    }

    test {INCR, DECR, INCRBY, DECRBY} {
        r del n
        assert_equal [r incr n] 1
        assert_equal [r incr n] 2
        assert_equal [r decr n] 1
        assert_equal [r incrby n 10] 11
        assert_equal [r decrby n 20] -9
        assert_equal [r incrby n -1] -10
        assert_equal [r get n] -10
    }

    test {INCR keeps the TTL} {
        r set n 10 ex 100
        r incr n
        assert_range [r ttl n] 99 100
    }

    test {INCR on a value with spaces is an error} {
        r set n " 11"
        assert_error {ERR value is not an integer or out of range} {r incr n}
        r set n "11 "
        assert_error {ERR value is not an integer or out of range} {r incr n}
    }

    test {INCR on a non-integer or leading zero value} {
        r set n abc
        assert_error {ERR value is not an integer or out of range} {r incr n}
        r set n 1.5
        assert_error {ERR value is not an integer or out of range} {r incr n}
        r set n 007
        assert_error {ERR value is not an integer or out of range} {r incr n}
        r set n "+1"
        assert_error {ERR value is not an integer or out of range} {r incr n}
    }

    test {INCR past the 64-bit range is an overflow error} {
        r set n 9223372036854775807
        assert_error {ERR increment or decrement would overflow} {r incr n}
        r set n -9223372036854775808
        assert_error {ERR increment or decrement would overflow} {r decr n}
        assert_error {ERR increment or decrement would overflow} {r incrby n -1}
    }

    test {INCR on a value beyond 64 bits} {
        r set n 9223372036854775808
        assert_error {ERR value is not an integer or out of range} {r incr n}
    }

    test {INCRBY with a non-integer increment} {
        assert_error {ERR value is not an integer or out of range} {r incrby n x}
        assert_error {ERR value is not an integer or out of range} {r incrby n 1.0}
    }

    test {DECRBY of the minimum 64-bit value} {
        r set n 0
        assert_error {ERR decrement would overflow} {r decrby n -9223372036854775808}
    }

    test {INCR of a large value and back} {
        r set n 9223372036854775806
        assert_equal [r incr n] 9223372036854775807
        assert_equal [r decrby n 9223372036854775807] 0
    }

    test {INCRBYFLOAT} {
        r del f
        assert_equal [r incrbyfloat f 1.5] 1.5
        assert_equal [r incrbyfloat f 0.1] 1.6
        assert_equal [r incrbyfloat f -1.6] 0
        r set f 10
        assert_equal [r incrbyfloat f 0.1] 10.1
    }

    test {INCRBYFLOAT formatting} {
        r set f 3.0
        assert_equal [r incrbyfloat f 1] 4
        r set f 5.0e3
        assert_equal [r incrbyfloat f 2.0e2] 5200
        r set f 0
        assert_equal [r incrbyfloat f 1e20] 100000000000000000000
        r set f 0
        assert_equal [r incrbyfloat f 0.0000001] 0.0000001
        r set f 0
        assert_equal [r incrbyfloat f 1.23456789012345678] 1.23456789012345678
        assert_equal [r get f] 1.23456789012345678
    }

    test {INCRBYFLOAT errors} {
        r set f abc
        assert_error {ERR value is not a valid float} {r incrbyfloat f 1}
        r set f 1
        assert_error {ERR value is not a valid float} {r incrbyfloat f x}
        assert_error {ERR value is not a valid float} {r incrbyfloat f " 1"}
        assert_error {ERR increment would produce NaN or Infinity} {r incrbyfloat f inf}
        assert_error {ERR increment would produce NaN or Infinity} {r incrbyfloat f -inf}
    }

    test {INCRBYFLOAT computes in long double beyond the double range} {
        r set f 1.7e308
        assert_equal [r incrbyfloat f 1.7e308] 340000000000000000006273556050395193590540427779388267466087171526404912102411641988123739177800600673957047683771263425322806997836001586961457274820033393094901317200013624802610872515245814124760542925564488876540887382670905522638137419003805178364056052028734561012664811529831035124023358619554802565120
    }

    test {INCRBYFLOAT keeps the TTL} {
        r set f 1 ex 100
        r incrbyfloat f 1
        assert_range [r ttl f] 99 100
    }

    test {APPEND} {
        r del s
        assert_equal [r append s Hello] 5
        assert_equal [r append s " World"] 11
        assert_equal [r get s] "Hello World"
        assert_equal [r append s ""] 11
    }

    test {APPEND to a number} {
        r set s 10
        r append s 5
        assert_equal [r incr s] 106
    }

    test {STRLEN} {
        r del s
        assert_equal [r strlen s] 0
        r set s hello
        assert_equal [r strlen s] 5
        r set s 12345
        assert_equal [r strlen s] 5
    }

    test {GETRANGE} {
        r set s "This is a string"
        assert_equal [r getrange s 0 3] This
        assert_equal [r getrange s -3 -1] ing
        assert_equal [r getrange s 0 -1] "This is a string"
        assert_equal [r getrange s 10 100] string
        assert_equal [r getrange s 5 3] ""
        # Redis 7.0 clamps both negative ends to 0, giving the first byte.
        assert_equal [r getrange s -100 -50] T
        assert_equal [r getrange s -100 2] Thi
        assert_equal [r getrange s 100 200] ""
    }

    test {GETRANGE edge cases} {
        r del s
        assert_equal [r rawcmd getrange s 0 -1] "\$0\r\n\r\n"
        r set s hello
        assert_equal [r getrange s 0 0] h
        assert_equal [r getrange s -1 -1] o
        assert_equal [r getrange s 4 -2] ""
        assert_equal [r getrange s -1 0] ""
        assert_error {ERR value is not an integer or out of range} {r getrange s a 1}
    }

    test {GETRANGE on an integer value} {
        r set s 1234
        assert_equal [r getrange s 1 2] 23
    }

    test {SETRANGE} {
        r set s "Hello World"
        assert_equal [r setrange s 6 Redis] 11
        assert_equal [r get s] "Hello Redis"
    }

    test {SETRANGE pads a missing key with zero bytes} {
        r del s
        assert_equal [r setrange s 5 x] 6
        assert_equal [r get s] "\x00\x00\x00\x00\x00x"
    }

    test {SETRANGE beyond the end pads with zero bytes} {
        r set s abc
        assert_equal [r setrange s 5 x] 6
        assert_equal [r get s] "abc\x00\x00x"
    }

    test {SETRANGE with an empty value} {
        r del s
        assert_equal [r setrange s 10 ""] 0
        assert_equal [r exists s] 0
        r set s abc
        assert_equal [r setrange s 10 ""] 3
        assert_equal [r get s] abc
    }

    test {SETRANGE errors} {
        assert_error {ERR offset is out of range} {r setrange s -1 x}
        assert_error {ERR string exceeds maximum allowed size (proto-max-bulk-len)} {r setrange s 536870912 x}
        assert_error {ERR value is not an integer or out of range} {r setrange s x y}
    }

    test {SETRANGE on an integer value} {
        r set s 1234
        assert_equal [r setrange s 1 x] 4
        assert_equal [r get s] 1x34
    }

    test {Commands are case-insensitive} {
        assert_equal [r SeT foo bar] OK
        assert_equal [r GET foo] bar
    }

    test {Wrong arity of string commands} {
        foreach {cmd args} {
            setnx {a} setex {a 1} psetex {a 1} getset {a} getdel {} getex {}
            mget {} incr {} decr {a b} incrby {a} decrby {a} incrbyfloat {a}
            append {a} strlen {} getrange {a 1} setrange {a 1}
        } {
            assert_error "ERR wrong number of arguments for '$cmd' command" [list r $cmd {*}$args]
        }
    }
}

# Large values (a Raft node proposes them with their command; a standalone
# node reads them straight into their entry): whole, split across many
# small writes with pauses, pipelined with the next command; a write larger
# than one Raft entry can hold is refused on a Raft node; 100 MiB on a
# standalone node (slow tier).
start_server [list tags {string large}] {
    test {A 1 MiB value round-trips through SET, SETEX, GETSET and SETNX} {
        set v [string repeat "0123456789abcdef" 65536]
        assert_equal [r set big $v] OK
        assert_equal [r get big] $v
        assert_equal [r setex bigex 100 $v] OK
        assert_equal [r strlen bigex] 1048576
        assert_range [r ttl bigex] 90 100
        assert_equal [r getset big "x$v"] $v
        assert_equal [r strlen big] 1048577
        assert_equal [r setnx big $v] 0
        r del big bigex
    }

    test {A 1 MiB value sent in small pieces with pauses, then a pipelined GET} {
        set v [string repeat "abcdefghijklmnop" 65536]
        set c [new_client]
        set fd [$c channel]
        set req "*3\r\n\$3\r\nSET\r\n\$5\r\nsplit\r\n\$[string length $v]\r\n$v\r\n*2\r\n\$3\r\nGET\r\n\$5\r\nsplit\r\n"
        set len [string length $req]
        for {set i 0} {$i < $len} {incr i $step} {
            set step [expr {$i < 64 ? 3 : 65521}]
            puts -nonewline $fd [string range $req $i [expr {$i + $step - 1}]]
            flush $fd
            if {$i % 7 == 0} { after 1 }
        }
        assert_equal [$c read] OK
        assert_equal [$c read] $v
        $c close
    }

    test {A write larger than a Raft entry holds is refused and the node serves on} {
        if {[server_is_redis]} return
        # 64 MiB: above REPL_ENTRY_MAX, which keeps an entry within one
        # cluster bus frame (else no follower could ever receive it).
        set v [string repeat "y" [expr {64 * 1024 * 1024}]]
        assert_error {ERR write too large to replicate*} {r set toolarge $v}
        unset v
        assert_equal [r exists toolarge] 0
        assert_equal [r set after small] OK
        assert_equal [r get after] small
    }
}

start_server [list tags {string large} overrides [expr {[::srv::is_redis] ? {} : {cluster-enabled no}}]] {
    test {A 100 MiB value is stored and read back} {
        set v [string repeat "x" [expr {100 * 1024 * 1024}]]
        assert_equal [r set huge $v] OK
        assert_equal [r strlen huge] [string length $v]
        assert_equal [r getrange huge -3 -1] xxx
        assert_equal [r get huge] $v
        r del huge
    } {slow}
}
