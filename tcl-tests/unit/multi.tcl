# MULTI/EXEC/DISCARD/WATCH/UNWATCH on a single node (a Raft group of one),
# with Redis 7.0's replies; the cases follow Redis' tests/unit/multi.tcl:
# touched keys (writes, DEL, EXPIRE, FLUSHALL/FLUSHDB only of existing
# keys), expiry after WATCH, stale keys (watched while logically expired:
# their removal or overwrite is no change), and the null reply (RESP2 *-1,
# RESP3 _). Also runs against redis-server (--server-bin) to check itself.

start_server {tags {multi} overrides {enable-debug-command yes}} {
    test {MULTI / EXEC basics} {
        r del mylist
        r multi
        r set a 1
        r incr a
        assert_equal [r exec] {OK 2}
    }

    test {DISCARD, and EXEC and DISCARD without MULTI} {
        r multi
        r set a 5
        assert_equal [r discard] OK
        assert_equal [r get a] 2
        assert_error "ERR EXEC without MULTI" {r exec}
        assert_error "ERR DISCARD without MULTI" {r discard}
    }

    test {Nested MULTI and WATCH inside MULTI are refused without aborting} {
        r multi
        assert_error "ERR MULTI calls can not be nested" {r multi}
        assert_error "ERR WATCH inside MULTI is not allowed" {r watch x}
        r set a 7
        assert_equal [r exec] OK
    }

    test {EXEC fails if there are errors while queueing commands} {
        set c [new_client]
        $c multi
        catch {$c foo} e
        assert_match "ERR unknown command*" $e
        assert_error "EXECABORT Transaction discarded because of previous errors." {$c exec}
        $c close
    }

    test {EXEC fail on WATCHed key modified by another client} {
        set c [new_client]
        r set x 30
        r watch x
        $c set x 40
        r multi
        r ping
        assert_equal [r rawcmd exec] "*-1\r\n"
        $c close
    }

    test {EXEC fail on WATCHed key modified (1 key of 5 watched)} {
        set c [new_client]
        r set x 30
        r watch a b x k z
        $c set x 40
        r multi
        r ping
        assert_equal [r exec] {}
        $c close
    }

    test {EXEC fail on WATCHed key modified by the same client before MULTI} {
        r set x 30
        r watch x
        r set x 40
        r multi
        r ping
        assert_equal [r exec] {}
    }

    test {After successful EXEC key is no longer watched} {
        set c [new_client]
        r set x 30
        r watch x
        r multi
        r ping
        assert_equal [r exec] PONG
        $c set x 40
        r multi
        r ping
        assert_equal [r exec] PONG
        $c close
    }

    test {After failed EXEC key is no longer watched} {
        set c [new_client]
        r set x 30
        r watch x
        $c set x 40
        r multi
        r ping
        assert_equal [r exec] {}
        $c set x 50
        r multi
        r ping
        assert_equal [r exec] PONG
        $c close
    }

    test {It is possible to UNWATCH, and UNWATCH with nothing watched} {
        set c [new_client]
        assert_equal [r unwatch] OK
        r set x 30
        r watch x
        $c set x 40
        r unwatch
        r multi
        r ping
        assert_equal [r exec] PONG
        $c close
    }

    test {DISCARD should UNWATCH all the keys and clear the dirty flag} {
        set c [new_client]
        r set x 30
        r watch x
        $c set x 10
        r multi
        r discard
        r multi
        r ping
        assert_equal [r exec] PONG
        $c close
    }

    test {WATCH of a key a no-op write leaves alone: SETNX on an existing key, DEL of a missing one} {
        set c [new_client]
        r set x 1
        r del y
        r watch x y
        $c setnx x 2
        $c del y
        r multi
        r ping
        assert_equal [r exec] PONG
        $c close
    }

    test {FLUSHALL and FLUSHDB touch the watched keys that exist} {
        set c [new_client]
        r set x 30
        r watch x
        $c flushall
        r multi
        r ping
        assert_equal [r exec] {}
        r set x 30
        r watch x
        $c flushdb
        r multi
        r ping
        assert_equal [r exec] {}
        r del x
        r watch x
        $c flushall
        r multi
        r ping
        assert_equal [r exec] PONG
        $c close
    }

    test {WATCH will consider touched keys target of EXPIRE and DEL} {
        set c [new_client]
        r set x foo
        r watch x
        $c expire x 10
        r multi
        r ping
        assert_equal [r exec] {}
        r set x foo
        r watch x
        $c del x
        r multi
        r ping
        assert_equal [r exec] {}
        $c close
    }

    test {WATCH will consider touched expired keys} {
        r del x
        r set x foo
        r expire x 1
        r watch x
        after 1100
        r multi
        r ping
        assert_equal [r exec] {}
    }

    test {WATCH of a stale key: a write over it fails EXEC (Redis 7.0)} {
        r del x
        r debug set-active-expire 0
        r set x foo px 1
        after 5
        r watch x
        r set x bar
        r multi
        r ping
        assert_equal [r exec] {}
        r debug set-active-expire 1
    }

    test {Delete WATCHed stale keys should not fail EXEC} {
        r del x
        r debug set-active-expire 0
        r set x foo px 1
        after 5
        r watch x
        assert_equal [r exists x] 0
        r multi
        r ping
        assert_equal [r exec] PONG
        r debug set-active-expire 1
    }

    test {FLUSHDB while watching stale keys should not fail EXEC} {
        r del x
        r debug set-active-expire 0
        r set x foo px 1
        after 5
        r watch x
        r flushdb
        r multi
        r ping
        assert_equal [r exec] PONG
        r debug set-active-expire 1
    }

    test {RESET forgets the watched keys and the transaction} {
        set c [new_client]
        set d [new_client]
        $c set x 1
        $c watch x
        $c multi
        assert_equal [$c reset] RESET
        $d set x 2
        $c multi
        $c ping
        assert_equal [$c exec] PONG
        $c close
        $d close
    }

    test {An aborted EXEC replies _ in RESP3} {
        set c [new_client]
        set d [new_client]
        $c hello 3
        $c watch x
        $d set x 9
        $c multi
        $c ping
        assert_equal [$c rawcmd exec] "_\r\n"
        $c close
        $d close
    }

    test {Arity errors of WATCH and UNWATCH} {
        assert_error "ERR wrong number of arguments for 'watch' command" {r watch}
        assert_error "ERR wrong number of arguments for 'unwatch' command" {r unwatch x}
    }
}
