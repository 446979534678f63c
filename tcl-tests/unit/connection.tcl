# Connection commands: PING ECHO QUIT RESET HELLO AUTH CLIENT, and the RESP3
# reply shapes after HELLO 3.

start_server {tags {connection}} {
    test {PING and PING with a message} {
        assert_equal [r rawcmd ping] "+PONG\r\n"
        assert_equal [r rawcmd ping hello] "\$5\r\nhello\r\n"
        assert_error {ERR wrong number of arguments for 'ping' command} {r ping a b}
    }

    test {ECHO} {
        assert_equal [r rawcmd echo "hi there"] "\$8\r\nhi there\r\n"
        assert_equal [r rawcmd echo ""] "\$0\r\n\r\n"
        assert_error {ERR wrong number of arguments for 'echo' command} {r echo}
    }

    test {QUIT replies OK and closes the connection} {
        set c [new_client]
        assert_equal [$c rawcmd quit] "+OK\r\n"
        assert_error {*connection closed*} {$c ping}
        $c close
    }

    test {Commands pipelined after QUIT are not executed} {
        r del afterquit
        set fd [raw_connect]
        raw_send $fd "QUIT\r\nSET afterquit 1\r\n"
        lassign [raw_read_until_quiet $fd 500 3000] buf closed
        raw_close $fd
        assert_equal $buf "+OK\r\n"
        assert_equal $closed 1
        assert_equal [r exists afterquit] 0
    }

    test {HELLO without arguments describes the server in RESP2} {
        set reply [r hello]
        assert_equal [dict keys $reply] {server version proto id mode role modules}
        assert_equal [dict get $reply proto] 2
        # A raftcache node is a Raft group (cluster-enabled yes) and says so
        # as a Redis Cluster node does; redis-server here runs standalone.
        assert_equal [dict get $reply mode] [expr {[::srv::is_redis] ? "standalone" : "cluster"}]
        assert_equal [dict get $reply role] master
        assert_equal [dict get $reply modules] {}
        assert_match "*14\r\n*" [r rawcmd hello]
    }

    test {HELLO id equals CLIENT ID} {
        assert_equal [dict get [r hello] id] [r client id]
    }

    test {HELLO 3 switches to RESP3 and replies with a map} {
        set c [new_client]
        set raw [$c rawcmd hello 3]
        assert_match "%7\r\n*" $raw
        assert_match "*\$5\r\nproto\r\n:3\r\n*" $raw
        assert_equal [$c rawcmd hello 2] [string map {"%7\r\n" "*14\r\n" ":3\r\n" ":2\r\n"} $raw]
        $c close
    }

    test {HELLO with an unsupported protocol version} {
        assert_error {NOPROTO unsupported protocol version} {r hello 4}
        assert_error {NOPROTO unsupported protocol version} {r hello 1}
        assert_error {ERR Protocol version is not an integer or out of range} {r hello abc}
    }

    test {HELLO SETNAME sets the client name} {
        set c [new_client]
        $c hello 2 setname myname
        assert_equal [$c client getname] myname
        $c close
    }

    test {HELLO with a syntax error} {
        assert_error {ERR Syntax error in HELLO option 'foo'} {r hello 3 foo}
    }

    test {HELLO AUTH accepts any password when none is configured} {
        set c [new_client]
        assert_equal [dict get [$c hello 2 auth default anything] proto] 2
        $c close
    }

    test {AUTH without a configured password} {
        assert_error {ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?} {r auth foo}
        # The default user has no password: any password is accepted for it.
        assert_equal [r auth default foo] OK
        assert_error {ERR wrong number of arguments for 'auth' command} {r auth}
    }

    test {RESP3 null, map, set and double shapes} {
        set c [new_client]
        $c hello 3
        $c flushall
        assert_equal [$c rawcmd get nokey] "_\r\n"
        $c mset a 1
        assert_equal [$c rawcmd mget a nokey] "*2\r\n\$1\r\n1\r\n_\r\n"
        assert_equal [$c rawcmd set a 2 nx] "_\r\n"
        assert_equal [$c rawcmd ttl a] ":-1\r\n"
        set mc [lindex [r config get maxclients] 1]
        assert_equal [$c rawcmd config get maxclients] "%1\r\n\$10\r\nmaxclients\r\n\$[string length $mc]\r\n$mc\r\n"
        assert_equal [$c rawcmd randomkey] "\$1\r\na\r\n"
        assert_equal [$c rawcmd incrbyfloat f 1.5] "\$3\r\n1.5\r\n"
        assert_equal [$c rawcmd getdel nokey] "_\r\n"
        assert_equal [$c rawcmd object encoding nokey] "_\r\n"
        assert_equal [$c rawcmd client getname] "_\r\n"
        $c close
    }

    test {RESP3 sets in COMMAND INFO, maps in COMMAND DOCS} {
        set c [new_client]
        $c hello 3
        assert_match "*1\r\n*10\r\n\$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n*" \
            [$c rawcmd command info get]
        assert_equal [$c rawcmd command docs get] "%1\r\n\$3\r\nget\r\n%5\r\n\$7\r\nsummary\r\n\$22\r\nGet the value of a key\r\n\$5\r\nsince\r\n\$5\r\n1.0.0\r\n\$5\r\ngroup\r\n\$6\r\nstring\r\n\$10\r\ncomplexity\r\n\$4\r\nO(1)\r\n\$9\r\narguments\r\n*1\r\n%3\r\n\$4\r\nname\r\n\$3\r\nkey\r\n\$4\r\ntype\r\n\$3\r\nkey\r\n\$14\r\nkey_spec_index\r\n:0\r\n"
        assert_equal [$c rawcmd type nokey] "+none\r\n"
        assert_equal [$c rawcmd scan 0 match nomatch*] "*2\r\n\$1\r\n0\r\n*0\r\n"
        assert_match "*resp=3*" [$c client info]
        $c close
    }

    test {RESP3 INFO and CLIENT INFO are verbatim strings} {
        set c [new_client]
        $c hello 3
        assert_match "=*\r\ntxt:# Server\r\n*" [$c rawcmd info server]
        assert_match "=*\r\ntxt:id=*" [$c rawcmd client info]
        $c close
    }

    test {RESP3 errors stay simple errors} {
        set c [new_client]
        $c hello 3
        assert_equal [$c rawcmd get] "-ERR wrong number of arguments for 'get' command\r\n"
        $c close
    }

    test {RESET restores the connection defaults} {
        set c [new_client]
        $c hello 3 setname before
        assert_equal [$c rawcmd reset] "+RESET\r\n"
        assert_equal [$c rawcmd get nokey] "\$-1\r\n"
        assert_equal [$c client getname] {}
        $c close
    }

    test {CLIENT ID is an integer that grows} {
        set c1 [new_client]
        set c2 [new_client]
        set id1 [$c1 client id]
        set id2 [$c2 client id]
        assert {$id2 > $id1}
        assert_match ":*\r\n" [$c1 rawcmd client id]
        $c1 close
        $c2 close
    }

    test {CLIENT SETNAME and GETNAME} {
        set c [new_client]
        assert_equal [$c rawcmd client getname] "\$-1\r\n"
        assert_equal [$c client setname myclient] OK
        assert_equal [$c client getname] myclient
        assert_equal [$c client setname ""] OK
        assert_equal [$c rawcmd client getname] "\$-1\r\n"
        assert_error {ERR Client names cannot contain spaces, newlines or special characters.} {$c client setname "a b"}
        assert_error {ERR Client names cannot contain spaces, newlines or special characters.} {$c client setname "a\nb"}
        $c close
    }

    test {CLIENT LIST lists every connection in Redis' format} {
        set c [new_client]
        $c client setname listed
        set list [r client list]
        assert_match "*id=* addr=127.0.0.1:* laddr=127.0.0.1:* fd=* name=listed age=* idle=* flags=N db=0 *cmd=client|setname *" $list
        assert_match "*id=[r client id] addr=* name= *cmd=client|list *" $list
        $c close
        wait_for_condition 50 20 {![string match "*name=listed *" [r client list]]}
    }

    test {CLIENT LIST ID filters by id} {
        set id [r client id]
        set list [r client list id $id]
        assert_match "id=$id *" $list
        assert_equal [llength [split [string trim $list] "\n"]] 1
    }

    test {CLIENT INFO describes the calling connection} {
        set info [r client info]
        assert_match "id=[r client id] addr=127.0.0.1:* *cmd=client|info *resp=2*" $info
    }

    # Redis 7.2: CLIENT SETINFO values end every CLIENT LIST/INFO line.
    test {CLIENT SETINFO lib-name and lib-ver show in CLIENT INFO and LIST} {
        # The installed redis-server 7.0 predates CLIENT SETINFO.
        if {[server_is_redis]} return
        set c [new_client]
        assert_match "* resp=2 lib-name= lib-ver=" [string trim [$c client info]]
        assert_equal [$c client setinfo lib-name redis-py] OK
        assert_equal [$c client setinfo LIB-VER 5.0.1] OK
        assert_match "* resp=2 lib-name=redis-py lib-ver=5.0.1" [string trim [$c client info]]
        set id [$c client id]
        assert_match "id=$id * lib-name=redis-py lib-ver=5.0.1" [string trim [r client list id $id]]
        assert_error {*lib-name cannot contain spaces*} {$c client setinfo lib-name "a b"}
        $c close
    }

    test {CLIENT KILL ID closes that connection} {
        set c [new_client]
        set id [$c client id]
        assert_equal [r client kill id $id] 1
        assert_error {*connection closed*} {$c ping}
        $c close
        assert_equal [r client kill id 999999] 0
    }

    test {CLIENT KILL by address} {
        set c [new_client]
        set addr [lindex [fconfigure [$c channel] -sockname] 0]:[lindex [fconfigure [$c channel] -sockname] 2]
        assert_equal [r client kill $addr] OK
        assert_error {*connection closed*} {$c ping}
        $c close
        assert_error {ERR No such client} {r client kill 127.0.0.1:1}
    }

    test {CLIENT REPLY OFF, SKIP and ON} {
        set c [new_client]
        $c deferred 1
        $c client reply off
        $c set a 1
        $c client reply on
        assert_equal [$c read] OK
        $c client reply skip
        $c set b 2
        $c ping
        assert_equal [$c read] PONG
        $c close
        assert_equal [r mget a b] {1 2}
    }

    test {CLIENT NO-EVICT} {
        assert_equal [r client no-evict on] OK
        assert_equal [r client no-evict off] OK
        assert_error {ERR syntax error} {r client no-evict maybe}
    }

    test {CLIENT with an unknown subcommand} {
        assert_error {ERR unknown subcommand 'foo'. Try CLIENT HELP.} {r client foo}
        assert_error {ERR wrong number of arguments for 'client|setname' command} {r client setname}
    }
}

start_server {tags {external:skip connection auth} overrides {requirepass s3cret}} {
    test {Commands need AUTH when requirepass is set} {
        set c [new_client]
        assert_error {NOAUTH Authentication required.} {$c get a}
        assert_error {WRONGPASS invalid username-password pair or user is disabled.} {$c auth wrong}
        assert_equal [$c auth s3cret] OK
        assert_equal [$c ping] PONG
        $c close
    }

    test {AUTH with the default user name} {
        set c [new_client]
        assert_equal [$c auth default s3cret] OK
        assert_equal [$c ping] PONG
        $c close
    }

    test {HELLO AUTH authenticates and switches protocol} {
        set c [new_client]
        assert_error {NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time} {$c hello 3}
        assert_match "%7\r\n*" [$c rawcmd hello 3 auth default s3cret]
        assert_equal [$c rawcmd get nokey] "_\r\n"
        $c close
    }
}

start_server {tags {external:skip connection} overrides {timeout 1}} {
    test {An idle client is closed after timeout seconds} {
        set c [new_client]
        $c ping
        set closed 0
        for {set i 0} {$i < 40 && !$closed} {incr i} {
            after 100
            if {[eof [$c channel]] || ![catch {read [$c channel]} d] && [eof [$c channel]]} { set closed 1 }
        }
        $c close
        assert_equal $closed 1
    }
}

start_server {tags {external:skip connection} overrides {maxclients 10}} {
    test {Connections beyond maxclients get Redis' error and are closed} {
        set fds {}
        set errors 0
        for {set i 0} {$i < 12} {incr i} {
            set fd [raw_connect]
            lappend fds $fd
            raw_send $fd "PING\r\n"
            lassign [raw_read_until_quiet $fd 200 2000] buf closed
            if {$buf eq "-ERR max number of clients reached\r\n" && $closed} { incr errors }
        }
        foreach fd $fds { raw_close $fd }
        # The default client counts as one of the ten.
        assert_equal $errors 3
        wait_for_condition 50 50 {[info_field [r info clients] connected_clients] == 1} \
            "closed connections still counted"
        assert_server_alive
    }
}

start_server {tags {external:skip connection} overrides {client-output-buffer-limit {normal 100000 0 0}}} {
    test {A client that does not read is closed at the output buffer limit} {
        r set big [string repeat x 100000]
        set fd [raw_connect]
        set cmd "*2\r\n\$3\r\nGET\r\n\$3\r\nbig\r\n"
        raw_send $fd [string repeat $cmd 300]
        after 500
        set total 0
        set closed 0
        set deadline [expr {[clock milliseconds] + 5000}]
        while {[clock milliseconds] < $deadline} {
            if {[catch {read $fd} d]} { set closed 1; break }
            incr total [string length $d]
            if {[eof $fd]} { set closed 1; break }
            if {$d eq ""} { after 10 }
        }
        raw_close $fd
        assert_equal $closed 1
        assert {$total < 300 * 100000}
        assert_server_alive
    }
}

start_server {tags {connection}} {
    test {CLIENT KILL of the caller's own id is skipped unless SKIPME no} {
        set c [new_client]
        set id [$c client id]
        assert_equal [$c client kill id $id] 0
        assert_equal [$c ping] PONG
        assert_equal [$c rawcmd client kill id $id skipme no] ":1\r\n"
        assert_error {*connection closed*} {$c ping}
        $c close
    }

    test {CLIENT KILL LADDR and USER filters} {
        set c [new_client]
        $c ping
        set laddr 127.0.0.1:[srv port]
        # Every client on this listening address but the caller.
        assert {[r client kill laddr $laddr] >= 1}
        assert_error {*connection closed*} {$c ping}
        $c close
        set c [new_client]
        $c ping
        assert {[r client kill user default] >= 1}
        assert_error {*connection closed*} {$c ping}
        $c close
        assert_equal [r ping] PONG
    }
}

start_server {tags {connection external:skip}} {
    test {CONFIG SET timeout applies to connected clients} {
        set c [new_client]
        $c ping
        r config set timeout 1
        set closed 0
        for {set i 0} {$i < 40 && !$closed} {incr i} {
            after 100
            # The default client stays busy, so only the idle one is closed.
            r ping
            if {[catch {read [$c channel]}] || [eof [$c channel]]} { set closed 1 }
        }
        $c close
        r config set timeout 0
        assert_equal $closed 1
    }

    test {CONFIG SET maxclients refuses new connections over the limit} {
        r config set maxclients 2
        set a [new_client]
        $a ping
        set fd [raw_connect]
        raw_send $fd "PING\r\n"
        lassign [raw_read_until_quiet $fd 200 2000] buf closed
        raw_close $fd
        $a close
        r config set maxclients 10000
        assert_equal $buf "-ERR max number of clients reached\r\n"
    }

    test {CONFIG SET client-query-buffer-limit applies to the next query} {
        r config set client-query-buffer-limit 1mb
        set v [string repeat x 1500000]
        set fd [raw_connect]
        fconfigure $fd -blocking 1
        catch {puts -nonewline $fd "*3\r\n\$3\r\nSET\r\n\$2\r\nqb\r\n\$1500000\r\n$v\r\n"; flush $fd}
        fconfigure $fd -blocking 0
        lassign [raw_read_until_quiet $fd 500 5000] buf closed
        raw_close $fd
        r config set client-query-buffer-limit 1gb
        assert_equal $buf ""
        assert_equal $closed 1
        assert_equal [r exists qb] 0
    }
}

start_server {tags {connection external:skip}} {
    test {CONFIG SET requirepass: new connections must AUTH, the caller stays in} {
        r config set requirepass pw
        assert_equal [r ping] PONG
        set c [new_client]
        assert_error {NOAUTH Authentication required.} {$c ping}
        assert_equal [$c auth pw] OK
        assert_equal [$c ping] PONG
        $c close
        r config set requirepass ""
        set c [new_client]
        assert_equal [$c ping] PONG
        $c close
    }
}
