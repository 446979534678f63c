# Many simultaneous connections held open: every one gets its reply and the
# server keeps serving. Sockets are polled (no fileevent): Tcl 8.6 waits with
# select(), which cannot watch descriptors above 1023.

proc fd_limit {} {
    if {[catch {exec sh -c {ulimit -n}} n] || ![string is integer -strict $n]} { return 1024 }
    return $n
}

# Open N connections, send PING on each, read every +PONG. Returns the list
# of sockets (left open) or raises an error naming how far it got.
proc open_many {n {deadline_ms 120000}} {
    set fds {}
    set deadline [expr {[clock milliseconds] + $deadline_ms}]
    for {set i 0} {$i < $n} {incr i} {
        # Source addresses 127.0.0.2-9 in turn: each has its own ephemeral
        # ports, so thousands of sockets (and TIME_WAITs left by earlier
        # tests) do not make connect() crawl searching for a free port.
        set src 127.0.0.[expr {2 + $i % 8}]
        if {[catch {socket -myaddr $src $::srv::cur(host) $::srv::cur(port)} fd]} {
            foreach f $fds { catch {close $f} }
            error "connect $i of $n failed: $fd"
        }
        fconfigure $fd -translation binary -blocking 0 -buffering none
        lappend fds $fd
        puts -nonewline $fd "PING\r\n"
    }
    set pending $fds
    array set got {}
    while {[llength $pending] && [clock milliseconds] < $deadline} {
        set still {}
        foreach fd $pending {
            if {[catch {read $fd} d]} { set d "" }
            append got($fd) $d
            if {[string length $got($fd)] < 7 && ![eof $fd]} { lappend still $fd }
        }
        if {[llength $still] == [llength $pending]} { after 5 }
        set pending $still
    }
    set bad 0
    foreach fd $fds { if {$got($fd) ne "+PONG\r\n"} { incr bad } }
    if {$bad} {
        foreach f $fds { catch {close $f} }
        error "$bad of $n connections did not get +PONG"
    }
    return $fds
}

# QUIT on every socket and wait (bounded) for the server to close them, so
# TIME_WAIT lands on the server's side and this machine's ephemeral ports
# stay free for the next test; then close whatever is left.
proc close_many_by_quit {fds {deadline_ms 10000}} {
    foreach fd $fds { catch {puts -nonewline $fd "QUIT\r\n"} }
    set deadline [expr {[clock milliseconds] + $deadline_ms}]
    set pending $fds
    while {[llength $pending] && [clock milliseconds] < $deadline} {
        set still {}
        foreach fd $pending {
            if {[catch {read $fd}] || [eof $fd]} { catch {close $fd}; continue }
            lappend still $fd
        }
        if {[llength $still] == [llength $pending]} { after 5 }
        set pending $still
    }
    foreach fd $pending { catch {close $fd} }
}

proc held_connections_test {n} {
    set limit [fd_limit]
    if {$n + 100 > $limit} {
        set n [expr {$limit - 100}]
        puts "    (fd limit $limit: holding $n connections)"
    }
    set before [info_field [r info clients] connected_clients]
    set fds [open_many $n]
    set during [info_field [r info clients] connected_clients]
    assert_equal [r ping] PONG
    # Every held connection still works after all were opened.
    set fd [lindex $fds 0]
    puts -nonewline $fd "ECHO first\r\n"
    set last [lindex $fds end]
    puts -nonewline $last "ECHO last\r\n"
    assert_equal [raw_read_n $fd 11] "\$5\r\nfirst\r\n"
    assert_equal [raw_read_n $last 10] "\$4\r\nlast\r\n"
    close_many_by_quit $fds
    assert_equal $during [expr {$before + $n}]
    wait_for_condition 100 100 {[info_field [r info clients] connected_clients] == $before} \
        "connections were not released"
}

start_server {tags {connections} overrides {maxclients 10100}} {
    test {2,000 simultaneous connections are held and served} {
        held_connections_test 2000
    }

    test {10,000 simultaneous connections are held and served} {
        held_connections_test 10000
    }
}
