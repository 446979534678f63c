# Expiry: EXPIRE family with NX/XX/GT/LT, TTL/PTTL, EXPIRETIME, PERSIST,
# lazy expiry on access and the active expire cycle.

start_server {tags {expire}} {
    test {EXPIRE sets a TTL, TTL and PTTL report it} {
        r set foo bar
        assert_equal [r expire foo 100] 1
        assert_range [r ttl foo] 99 100
        assert_range [r pttl foo] 99000 100000
    }

    test {TTL and PTTL are -1 without expiry and -2 for a missing key} {
        r set foo bar
        assert_equal [r ttl foo] -1
        assert_equal [r pttl foo] -1
        r del foo
        assert_equal [r ttl foo] -2
        assert_equal [r pttl foo] -2
        assert_equal [r rawcmd ttl foo] ":-2\r\n"
    }

    test {EXPIRE on a missing key returns 0} {
        r del foo
        assert_equal [r expire foo 100] 0
        assert_equal [r pexpire foo 100] 0
        assert_equal [r expireat foo 2000000000] 0
        assert_equal [r pexpireat foo 2000000000000] 0
    }

    test {PEXPIRE, EXPIREAT, PEXPIREAT} {
        r set foo bar
        assert_equal [r pexpire foo 100000] 1
        assert_range [r pttl foo] 99000 100000
        set at [expr {[clock seconds] + 500}]
        assert_equal [r expireat foo $at] 1
        assert_equal [r expiretime foo] $at
        assert_equal [r pexpiretime foo] [expr {$at * 1000}]
        assert_equal [r pexpireat foo [expr {$at * 1000 + 123}]] 1
        assert_equal [r pexpiretime foo] [expr {$at * 1000 + 123}]
        assert_equal [r expiretime foo] $at
    }

    test {EXPIRETIME and PEXPIRETIME without expiry and for a missing key} {
        r set foo bar
        assert_equal [r expiretime foo] -1
        assert_equal [r pexpiretime foo] -1
        r del foo
        assert_equal [r expiretime foo] -2
        assert_equal [r pexpiretime foo] -2
    }

    test {EXPIRE with zero or a negative TTL deletes the key} {
        r set foo bar
        assert_equal [r expire foo 0] 1
        assert_equal [r exists foo] 0
        r set foo bar
        assert_equal [r pexpire foo -100] 1
        assert_equal [r exists foo] 0
        r set foo bar
        assert_equal [r expireat foo 1] 1
        assert_equal [r exists foo] 0
    }

    test {EXPIRE NX only sets when there is no TTL} {
        r set foo bar
        assert_equal [r expire foo 100 nx] 1
        assert_equal [r expire foo 200 nx] 0
        assert_range [r ttl foo] 99 100
    }

    test {EXPIRE XX only sets when there is a TTL} {
        r set foo bar
        assert_equal [r expire foo 100 xx] 0
        assert_equal [r ttl foo] -1
        r expire foo 100
        assert_equal [r expire foo 200 xx] 1
        assert_range [r ttl foo] 199 200
    }

    test {EXPIRE GT only raises the TTL; no TTL counts as infinite} {
        r set foo bar
        assert_equal [r expire foo 100 gt] 0
        assert_equal [r ttl foo] -1
        r expire foo 100
        assert_equal [r expire foo 50 gt] 0
        assert_equal [r expire foo 200 gt] 1
        assert_range [r ttl foo] 199 200
    }

    test {EXPIRE LT only lowers the TTL; no TTL counts as infinite} {
        r set foo bar
        assert_equal [r expire foo 100 lt] 1
        assert_range [r ttl foo] 99 100
        assert_equal [r expire foo 200 lt] 0
        assert_equal [r expire foo 50 lt] 1
        assert_range [r ttl foo] 49 50
    }

    test {EXPIRE NX and GT flags on PEXPIRE, EXPIREAT, PEXPIREAT} {
        r set foo bar
        assert_equal [r pexpire foo 100000 nx] 1
        assert_equal [r pexpire foo 200000 nx] 0
        set at [expr {[clock seconds] + 1000}]
        assert_equal [r expireat foo $at gt] 1
        assert_equal [r pexpireat foo [expr {$at * 1000 - 1}] gt] 0
        assert_equal [r pexpireat foo [expr {$at * 1000 - 1}] lt] 1
        assert_equal [r expireat foo $at xx] 1
    }

    test {EXPIRE flags are case-insensitive and GT with XX combines} {
        r set foo bar
        r expire foo 100
        assert_equal [r expire foo 300 Xx Gt] 1
        assert_range [r ttl foo] 299 300
    }

    test {EXPIRE with incompatible flags} {
        r set foo bar
        assert_error {ERR NX and XX, GT or LT options at the same time are not compatible} {r expire foo 100 nx xx}
        assert_error {ERR NX and XX, GT or LT options at the same time are not compatible} {r expire foo 100 nx gt}
        assert_error {ERR GT and LT options at the same time are not compatible} {r expire foo 100 gt lt}
        assert_error {ERR Unsupported option foo} {r expire foo 100 foo}
    }

    test {EXPIRE with a non-integer} {
        assert_error {ERR value is not an integer or out of range} {r expire foo abc}
        assert_error {ERR value is not an integer or out of range} {r expire foo 1.5}
        assert_error {ERR value is not an integer or out of range} {r pexpireat foo x}
    }

    test {EXPIRE with an overflowing time} {
        r set foo bar
        assert_error {ERR invalid expire time in 'expire' command} {r expire foo 9223372036854775807}
        assert_error {ERR invalid expire time in 'expireat' command} {r expireat foo 9223372036854775807}
        assert_error {ERR invalid expire time in 'pexpire' command} {r pexpire foo 9223372036854775807}
        assert_equal [r ttl foo] -1
    }

    test {EXPIRETIME of the latest possible time rounds up past LLONG_MAX ms as Redis} {
        # compat seed 30: the rounding overflowed a signed integer (UBSan)
        assert_equal [r set k v pxat 9223372036854775807] OK
        assert_equal [r expiretime k] 9223372036854776
        assert_equal [r pexpiretime k] 9223372036854775807
        r del k
    }

    test {TTL and EXPIRETIME round milliseconds to the nearest second} {
        r set k v
        r pexpire k 1650
        assert_equal [r ttl k] 2
        r pexpire k 1350
        assert_equal [r ttl k] 1
        r pexpire k 350
        assert_equal [r ttl k] 0
        set at [expr {[clock seconds] + 1000}]
        r pexpireat k [expr {$at * 1000 + 600}]
        assert_equal [r expiretime k] [expr {$at + 1}]
        r pexpireat k [expr {$at * 1000 + 400}]
        assert_equal [r expiretime k] $at
    }

    test {PERSIST} {
        r set foo bar ex 100
        assert_equal [r persist foo] 1
        assert_equal [r ttl foo] -1
        assert_equal [r persist foo] 0
        r del foo
        assert_equal [r persist foo] 0
    }

    test {A key is gone once its TTL has passed} {
        r set foo bar px 50
        after 120
        assert_equal [r rawcmd get foo] "\$-1\r\n"
        assert_equal [r exists foo] 0
        assert_equal [r ttl foo] -2
    }

    test {An expired key is gone for every read command} {
        r flushall
        r set a 1 px 50
        r set b 2 px 50
        r set c 3
        after 120
        assert_equal [r exists a b c] 1
        assert_equal [r keys *] {c}
        assert_equal [r rawcmd mget a b c] "*3\r\n\$-1\r\n\$-1\r\n\$1\r\n3\r\n"
        assert_equal [r strlen a] 0
        assert_equal [r type a] none
    }

    test {SET NX succeeds on an expired key} {
        r set foo old px 50
        after 120
        assert_equal [r set foo new nx] OK
        assert_equal [r ttl foo] -1
    }

    test {INCR on an expired key starts from zero} {
        r set n 100 px 50
        after 120
        assert_equal [r incr n] 1
        assert_equal [r ttl n] -1
    }

    test {APPEND and SETRANGE on an expired key start from empty} {
        r set s abc px 50
        after 120
        assert_equal [r append s x] 1
        r set s abc px 50
        after 120
        assert_equal [r setrange s 1 y] 2
    }

    test {RENAME of an expired key} {
        r set a 1 px 50
        after 120
        assert_error {ERR no such key} {r rename a b}
    }

    test {The active expire cycle removes keys nobody reads} {
        r flushall
        for {set i 0} {$i < 200} {incr i} { r set ek:$i v px 100 }
        r set keep v
        wait_for_condition 50 100 {[r dbsize] == 1} "expired keys were not removed"
        assert_equal [r keys *] {keep}
    }

    test {INFO keyspace counts keys with an expiry} {
        r flushall
        r set a 1
        r set b 2 ex 100
        assert_match "*db0:keys=2,expires=1,avg_ttl=*" [r info keyspace]
    }

    test {Wrong arity of expire commands} {
        foreach {cmd args} {
            expire {a} pexpire {a} expireat {a} pexpireat {a} ttl {} pttl {a b}
            expiretime {} pexpiretime {} persist {}
        } {
            assert_error "ERR wrong number of arguments for '$cmd' command" [list r $cmd {*}$args]
        }
    }
}
