# Protocol abuse: malformed requests get Redis' exact protocol errors, the
# connection is closed exactly when Redis closes it, and after every abuse
# the server keeps serving other clients. Expected bytes were recorded from
# redis-server 7.0.

# Send BYTES on a fresh connection; return {reply-bytes closed}.
proc abuse {bytes {quiet 300}} {
    set fd [raw_connect]
    fconfigure $fd -blocking 1
    catch {puts -nonewline $fd $bytes; flush $fd}
    fconfigure $fd -blocking 0
    set res [raw_read_until_quiet $fd $quiet 5000]
    raw_close $fd
    return $res
}

# A protocol error: exactly REPLY, then the server closes the connection.
proc assert_proto_error {bytes reply} {
    lassign [abuse $bytes] buf closed
    assert_equal $buf $reply
    assert_equal $closed 1 "connection should be closed"
    assert_server_alive
}

# Not an error: exactly REPLY and the connection stays open.
proc assert_proto_ok {bytes reply} {
    lassign [abuse $bytes] buf closed
    assert_equal $buf $reply
    assert_equal $closed 0 "connection should stay open"
    assert_server_alive
}

# Like assert_proto_error, for a server that wants a password.
proc assert_proto_error_noauth {bytes reply} {
    lassign [abuse $bytes] buf closed
    assert_equal $buf $reply
    assert_equal $closed 1 "connection should be closed"
}

start_server {tags {protocol}} {
    test {Inline garbage is an unknown command and the connection stays open} {
        assert_proto_ok "\x01\x02garbage here\r\nPING\r\n" \
            "-ERR unknown command '\x01\x02garbage', with args beginning with: 'here' \r\n+PONG\r\n"
    }

    test {Binary garbage with NUL bytes does not disturb the server} {
        abuse "\x00\x01\x02\xff\xfe\x00\r\n\x00\x00"
        assert_server_alive
    }

    test {Non-numeric multibulk length} {
        assert_proto_error "*abc\r\n" "-ERR Protocol error: invalid multibulk length\r\n"
    }

    test {Multibulk length with a sign or a space} {
        assert_proto_error "*+1\r\n\$4\r\nPING\r\n" "-ERR Protocol error: invalid multibulk length\r\n"
        assert_proto_error "* 1\r\n\$4\r\nPING\r\n" "-ERR Protocol error: invalid multibulk length\r\n"
    }

    test {Huge multibulk length} {
        assert_proto_error "*9999999999\r\n" "-ERR Protocol error: invalid multibulk length\r\n"
        assert_proto_error "*2147483648\r\n" "-ERR Protocol error: invalid multibulk length\r\n"
    }

    test {A large but valid multibulk length waits for its arguments} {
        assert_proto_ok "*1048577\r\n" ""
    }

    test {Negative and zero multibulk lengths are ignored} {
        assert_proto_ok "*-1\r\nPING\r\n" "+PONG\r\n"
        assert_proto_ok "*-5\r\nPING\r\n" "+PONG\r\n"
        assert_proto_ok "*0\r\nPING\r\n" "+PONG\r\n"
    }

    test {Missing dollar before a bulk} {
        assert_proto_error "*1\r\nfoo\r\n" "-ERR Protocol error: expected '\$', got 'f'\r\n"
    }

    test {A bare CR after the multibulk length} {
        assert_proto_error "*1\r\$4\r\nPING\r\n" "-ERR Protocol error: expected '\$', got '4'\r\n"
    }

    test {Negative bulk length} {
        assert_proto_error "*1\r\n\$-1\r\n" "-ERR Protocol error: invalid bulk length\r\n"
    }

    test {Non-numeric and signed bulk lengths} {
        assert_proto_error "*1\r\n\$abc\r\n" "-ERR Protocol error: invalid bulk length\r\n"
        assert_proto_error "*1\r\n\$+4\r\nPING\r\n" "-ERR Protocol error: invalid bulk length\r\n"
        assert_proto_error "*1\r\n\$4\nPING\r\n" "-ERR Protocol error: invalid bulk length\r\n"
    }

    test {Huge bulk length beyond proto-max-bulk-len} {
        assert_proto_error "*1\r\n\$9999999999\r\n" "-ERR Protocol error: invalid bulk length\r\n"
        assert_proto_error "*1\r\n\$536870913\r\n" "-ERR Protocol error: invalid bulk length\r\n"
    }

    test {Bulk length above a lowered proto-max-bulk-len} {
        r config set proto-max-bulk-len 1mb
        assert_proto_error "*3\r\n\$3\r\nSET\r\n\$1\r\nk\r\n\$1048577\r\n" "-ERR Protocol error: invalid bulk length\r\n"
        r config set proto-max-bulk-len 512mb
    }

    test {Too long multibulk and bulk count strings} {
        assert_proto_error "*[string repeat 1 70000]" "-ERR Protocol error: too big mbulk count string\r\n"
        assert_proto_error "*1\r\n\$[string repeat 1 70000]" "-ERR Protocol error: too big bulk count string\r\n"
    }

    test {Too big inline request} {
        assert_proto_error [string repeat a 70000] "-ERR Protocol error: too big inline request\r\n"
    }

    test {Replies before a protocol error are sent, then the connection closes} {
        assert_proto_error "*1\r\n\$4\r\nPING\r\n*x\r\nPING\r\n" \
            "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"
    }

    test {Unbalanced quotes in an inline request} {
        assert_proto_error "SET \"foo bar\r\n" "-ERR Protocol error: unbalanced quotes in request\r\n"
        assert_proto_error "SET 'foo\r\n" "-ERR Protocol error: unbalanced quotes in request\r\n"
        assert_proto_error "SET \"a\"b c\r\n" "-ERR Protocol error: unbalanced quotes in request\r\n"
    }

    test {Quoted inline arguments with escapes} {
        r del "a b"
        assert_proto_ok "SET \"a b\" \"c\\x41\"\r\nGET \"a b\"\r\n" "+OK\r\n\$2\r\ncA\r\n"
        assert_equal [r get "a b"] cA
    }

    test {Inline commands: empty lines are skipped, LF alone ends a line} {
        assert_proto_ok "\r\n\r\n\nPING\r\n" "+PONG\r\n"
        assert_proto_ok "PING\nPING\n" "+PONG\r\n+PONG\r\n"
    }

    test {Inline errors keep the connection} {
        assert_proto_ok "ECHO\r\n" "-ERR wrong number of arguments for 'echo' command\r\n"
        assert_proto_ok "\$3\r\n" "-ERR unknown command '\$3', with args beginning with: \r\n"
    }

    test {An empty bulk argument} {
        assert_proto_ok "*2\r\n\$4\r\nECHO\r\n\$0\r\n\r\n" "\$0\r\n\r\n"
    }

    test {The two bytes after a bulk are skipped unchecked, as Redis does} {
        assert_proto_ok "*1\r\n\$4\r\nPINGxx*1\r\n\$4\r\nPING\r\n" "+PONG\r\n+PONG\r\n"
    }

    test {A half command followed by a close is dropped} {
        r del halfkey
        foreach part {
            "*3\r\n\$3\r\nSET\r\n\$7\r\nhalfkey\r\n\$5\r\nva"
            "*3\r\n\$3\r\nSET\r\n\$7\r\nhalfkey\r\n"
            "*3\r\n\$3\r\nSET\r\n\$7\r\nhalf"
            "*3\r\n\$3"
            "*3"
            "SET halfkey 1"
        } {
            set fd [raw_connect]
            raw_send $fd $part
            after 20
            raw_close $fd
        }
        assert_server_alive
        assert_equal [r exists halfkey] 0
    }

    test {A half command completes when the rest arrives later} {
        set fd [raw_connect]
        raw_send $fd "*3\r\n\$3\r\nSET\r\n\$4\r\nhalf\r\n\$3\r\nab"
        after 200
        assert_server_alive
        raw_send $fd "c\r\n"
        assert_equal [raw_read_n $fd 5] "+OK\r\n"
        raw_close $fd
        assert_equal [r get half] abc
    }

    test {A huge but valid multibulk count followed by a close does not hurt the server} {
        abuse "*2147483647\r\n\$3\r\nDEL\r\n\$1\r\nx\r\n"
        assert_server_alive
    }

    test {A maximum-size bulk header followed by a close does not hurt the server} {
        abuse "*3\r\n\$3\r\nSET\r\n\$1\r\nk\r\n\$536870912\r\nabc"
        assert_server_alive
        assert_equal [r exists k] 0
    }

    test {A command with 100,000 arguments} {
        r mset a1 1 a99999 2
        set req "*100001\r\n\$3\r\nDEL\r\n"
        for {set i 0} {$i < 100000} {incr i} { append req "\$[string length a$i]\r\na$i\r\n" }
        lassign [abuse $req 500] buf closed
        assert_equal $buf ":2\r\n"
        assert_equal $closed 0
    }

    test {10,000 pipelined commands in one write get all replies in order} {
        r del pipecounter
        set req ""
        set expected ""
        for {set i 0} {$i < 10000} {incr i} {
            if {$i % 2} {
                append req "*2\r\n\$4\r\nINCR\r\n\$11\r\npipecounter\r\n"
                append expected ":[expr {($i + 1) / 2}]\r\n"
            } else {
                append req "*2\r\n\$4\r\nECHO\r\n\$[string length $i]\r\n$i\r\n"
                append expected "\$[string length $i]\r\n$i\r\n"
            }
        }
        set fd [raw_connect]
        fconfigure $fd -blocking 1
        puts -nonewline $fd $req
        flush $fd
        fconfigure $fd -blocking 0
        set got [raw_read_n $fd [string length $expected] 30000]
        raw_close $fd
        assert_equal [string length $got] [string length $expected]
        assert {$got eq $expected} "replies out of order or wrong"
        assert_equal [r get pipecounter] 5000
    }

    test {10,000 pipelined inline commands} {
        set fd [raw_connect]
        fconfigure $fd -blocking 1
        puts -nonewline $fd [string repeat "PING\r\n" 10000]
        flush $fd
        fconfigure $fd -blocking 0
        set got [raw_read_n $fd [expr {7 * 10000}] 30000]
        raw_close $fd
        assert {$got eq [string repeat "+PONG\r\n" 10000]}
    }

    test {A client that reads its replies late still gets all of them} {
        r set big10k [string repeat z 10000]
        set fd [raw_connect]
        fconfigure $fd -blocking 1
        puts -nonewline $fd [string repeat "*2\r\n\$3\r\nGET\r\n\$6\r\nbig10k\r\n" 1000]
        flush $fd
        fconfigure $fd -blocking 0
        after 500
        assert_equal [r ping] PONG
        set one "\$10000\r\n[string repeat z 10000]\r\n"
        set got [raw_read_n $fd [expr {1000 * [string length $one]}] 30000]
        raw_close $fd
        assert {$got eq [string repeat $one 1000]} "replies differ"
    }

    test {A slow client sending byte by byte does not block others} {
        r del slowkey
        set fd [raw_connect]
        set cmd "*3\r\n\$3\r\nSET\r\n\$7\r\nslowkey\r\n\$5\r\nhello\r\n"
        set other [new_client]
        set i 0
        foreach ch [split $cmd ""] {
            raw_send $fd $ch
            after 2
            # Others are served while the slow command is incomplete.
            if {[incr i] % 8 == 0} { assert_equal [$other ping] PONG }
        }
        assert_equal [raw_read_n $fd 5] "+OK\r\n"
        raw_close $fd
        $other close
        assert_equal [r get slowkey] hello
    }

    test {Byte-by-byte inline command} {
        set fd [raw_connect]
        foreach ch [split "ECHO slow\r\n" ""] { raw_send $fd $ch; after 1 }
        assert_equal [raw_read_n $fd 10] "\$4\r\nslow\r\n"
        raw_close $fd
    }

    test {A bulk split across many writes at awkward places} {
        set v [string repeat "0123456789" 10000]
        set cmd "*3\r\n\$3\r\nSET\r\n\$5\r\nsplit\r\n\$[string length $v]\r\n$v\r\n"
        set fd [raw_connect]
        fconfigure $fd -blocking 1
        set pos 0
        foreach n {1 2 3 5 7 11 13 17 4096 3 65536 2} {
            puts -nonewline $fd [string range $cmd $pos [expr {$pos + $n - 1}]]
            flush $fd
            incr pos $n
            after 1
        }
        puts -nonewline $fd [string range $cmd $pos end]
        flush $fd
        fconfigure $fd -blocking 0
        assert_equal [raw_read_n $fd 5] "+OK\r\n"
        raw_close $fd
        assert_equal [r strlen split] [string length $v]
        assert {[r get split] eq $v}
    }
}

start_server {tags {protocol} overrides {client-query-buffer-limit 1mb}} {
    test {A query bigger than client-query-buffer-limit closes the connection} {
        r del qbkey
        set v [string repeat x 2000000]
        lassign [abuse "*3\r\n\$3\r\nSET\r\n\$5\r\nqbkey\r\n\$2000000\r\n$v\r\n" 500] buf closed
        assert_equal $buf ""
        assert_equal $closed 1
        assert_server_alive
        assert_equal [r exists qbkey] 0
    }

    test {A bulk over client-query-buffer-limit whose header arrives first closes the connection} {
        r del qbkey
        set fd [raw_connect]
        fconfigure $fd -blocking 1
        puts -nonewline $fd "*3\r\n\$3\r\nSET\r\n\$5\r\nqbkey\r\n\$2000000\r\n"
        flush $fd
        after 200
        catch {puts -nonewline $fd "[string repeat x 2000000]\r\n"; flush $fd}
        fconfigure $fd -blocking 0
        lassign [raw_read_until_quiet $fd 500 5000] buf closed
        raw_close $fd
        assert_equal $buf ""
        assert_equal $closed 1
        assert_server_alive
        assert_equal [r exists qbkey] 0
    }

    test {A query under client-query-buffer-limit is served} {
        set v [string repeat x 900000]
        lassign [abuse "*3\r\n\$3\r\nSET\r\n\$5\r\nqbkey\r\n\$900000\r\n$v\r\n"] buf closed
        assert_equal $buf "+OK\r\n"
        assert_equal [r strlen qbkey] 900000
    }
}

start_server {tags {protocol external:skip} overrides {requirepass pw}} {
    test {Before AUTH, more than 10 arguments is a protocol error} {
        assert_proto_error_noauth "*11\r\n" "-ERR Protocol error: unauthenticated multibulk length\r\n"
        lassign [abuse "*10\r\n\$4\r\nPING\r\n" 300] buf closed
        assert_equal $closed 0
    }

    test {Before AUTH, a bulk over 16384 bytes is a protocol error} {
        assert_proto_error_noauth "*2\r\n\$4\r\nAUTH\r\n\$16385\r\n" "-ERR Protocol error: unauthenticated bulk length\r\n"
        lassign [abuse "*2\r\n\$4\r\nAUTH\r\n\$16384\r\n" 300] buf closed
        assert_equal $closed 0
    }

    test {After AUTH the usual limits apply} {
        set fd [raw_connect]
        raw_send $fd "AUTH pw\r\n*12\r\n\$4\r\nECHO\r\n[string repeat "\$1\r\na\r\n" 11]"
        lassign [raw_read_until_quiet $fd 300 3000] buf closed
        raw_close $fd
        assert_equal $buf "+OK\r\n-ERR wrong number of arguments for 'echo' command\r\n"
        assert_equal $closed 0
    }
}
