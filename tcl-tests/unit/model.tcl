# Randomised model test: a seeded stream of string commands (SET GET APPEND
# STRLEN DEL EXISTS INCR INCRBY MGET GETDEL SETRANGE GETRANGE) over a small
# keyspace, sent as one pipeline cut into random pieces (1 byte to 16 KB) on
# one connection, with values of random bytes and sizes up to 100 KB. Every
# reply is compared with a model of the keyspace kept in Tcl. The seed is
# printed on failure; --only 'Model*' with the same build replays it.

proc model_bulk {v} { return "\$[string length $v]\r\n$v\r\n" }

# GET's reply for key K of the model array.
proc model_get_reply {mvar k} {
    upvar 1 $mvar M
    if {[info exists M($k)]} { return [model_bulk $M($k)] }
    return "\$-1\r\n"
}

proc model_value {} {
    set r [expr {rand()}]
    if {$r < 0.6} { set n [expr {int(rand() * 20)}] } elseif {$r < 0.97} { set n [expr {int(rand() * 3000)}] } else { set n [expr {int(rand() * 100000)}] }
    set s ""
    for {set i 0} {$i < $n} {incr i 64} {
        append s [binary format c* [lmap _ [lrepeat [expr {min(64, $n - $i)}] 0] {expr {int(rand() * 256)}}]]
    }
    return $s
}

# SETRANGE as Redis does it: zero padding, an empty value creates nothing.
proc model_setrange {mvar k off v} {
    upvar 1 $mvar M
    set cur [if {[info exists M($k)]} {set M($k)} else {list}]
    if {$v eq ""} { return [string length $cur] }
    set need [expr {$off + [string length $v]}]
    if {[string length $cur] < $need} {
        append cur [string repeat "\x00" [expr {$need - [string length $cur]}]]
    }
    set M($k) [string replace $cur $off [expr {$need - 1}] $v]
    return [string length $M($k)]
}

# GETRANGE with Redis 7.0's clamping of negative and out-of-range indexes.
proc model_getrange {v start end} {
    set len [string length $v]
    if {$start < 0 && $end < 0 && $start > $end} { return "" }
    if {$start < 0} { set start [expr {$len + $start}] }
    if {$end < 0} { set end [expr {$len + $end}] }
    if {$start < 0} { set start 0 }
    if {$end < 0} { set end 0 }
    if {$end >= $len} { set end [expr {$len - 1}] }
    if {$start > $end || $len == 0} { return "" }
    return [string range $v $start $end]
}

# One random command and its expected reply; updates the model array M.
proc model_step {mvar} {
    upvar 1 $mvar M
    set k m:[expr {int(rand() * 50)}]
    set c c:[expr {int(rand() * 10)}]
    switch [expr {int(rand() * 14)}] {
        0 - 1 { set v [model_value]; set M($k) $v; return [list [list SET $k $v] "+OK\r\n"] }
        2 - 3 { return [list [list GET $k] [model_get_reply M $k]] }
        4 {
            set v [model_value]
            append M($k) $v
            return [list [list APPEND $k $v] ":[string length $M($k)]\r\n"]
        }
        5 { return [list [list STRLEN $k] ":[expr {[info exists M($k)] ? [string length $M($k)] : 0}]\r\n"] }
        6 {
            set n [info exists M($k)]
            unset -nocomplain M($k)
            return [list [list DEL $k] ":$n\r\n"]
        }
        7 { return [list [list EXISTS $k $k] ":[expr {2 * [info exists M($k)]}]\r\n"] }
        8 {
            set M($c) [expr {[info exists M($c)] ? $M($c) + 1 : 1}]
            return [list [list INCR $c] ":$M($c)\r\n"]
        }
        9 {
            set k2 m:[expr {int(rand() * 50)}]
            set r "*2\r\n"
            foreach x [list $k $k2] { append r [model_get_reply M $x] }
            return [list [list MGET $k $k2] $r]
        }
        10 {
            set r [model_get_reply M $k]
            unset -nocomplain M($k)
            return [list [list GETDEL $k] $r]
        }
        11 {
            set off [expr {int(rand() * 5000)}]
            # Not [expr {... ? "" : $v}]: expr would turn " 12" into 12.
            set v [if {rand() < 0.1} {list} else {model_value}]
            return [list [list SETRANGE $k $off $v] ":[model_setrange M $k $off $v]\r\n"]
        }
        12 {
            set a [expr {int(rand() * 6000) - 3000}]
            set b [expr {int(rand() * 6000) - 3000}]
            set v [if {[info exists M($k)]} {set M($k)} else {list}]
            return [list [list GETRANGE $k $a $b] [model_bulk [model_getrange $v $a $b]]]
        }
        13 {
            set by [expr {int(rand() * 2000001) - 1000000}]
            set M($c) [expr {([info exists M($c)] ? $M($c) : 0) + $by}]
            return [list [list INCRBY $c $by] ":$M($c)\r\n"]
        }
    }
}

proc model_run {seed ncmds} {
    expr {srand($seed)}
    array set M {}
    set req ""
    set cmds {}
    set want {}
    for {set i 0} {$i < $ncmds} {incr i} {
        lassign [model_step M] cmd reply
        append req [::rc::encode $cmd]
        lappend cmds $cmd
        lappend want $reply
    }
    set expected [join $want ""]
    set fd [raw_connect]
    set got ""
    set pos 0
    set len [string length $req]
    while {$pos < $len} {
        set n [expr {rand() < 0.1 ? 1 + int(rand() * 16) : 1 + int(rand() * 16384)}]
        fconfigure $fd -blocking 1
        puts -nonewline $fd [string range $req $pos [expr {$pos + $n - 1}]]
        flush $fd
        fconfigure $fd -blocking 0
        incr pos $n
        append got [read $fd]
        if {rand() < 0.01} { after 1 }
    }
    append got [raw_read_n $fd [expr {[string length $expected] - [string length $got]}] 60000]
    raw_close $fd
    if {$got eq $expected} return
    set replies [resp_split $got]
    for {set i 0} {$i < [llength $want]} {incr i} {
        if {[lindex $replies $i] ne [lindex $want $i]} {
            set cmd [lindex $cmds $i]
            set shown [lmap a $cmd {expr {[string length $a] > 40 ? "<[string length $a] bytes>" : $a}}]
            error "seed $seed, command $i {$shown}: [resp_diff [lindex $want $i] [lindex $replies $i]]"
        }
    }
    error "seed $seed: replies differ in length ([string length $got] vs [string length $expected])"
}

start_server {tags {model}} {
    foreach seed {1 2 3} {
        test "Model: 5,000 random string commands, pipelined in random pieces (seed $seed)" {
            r flushall
            model_run $seed 5000
        }
    }

    test "Model: 50,000 random string commands (seed 42)" {
        r flushall
        model_run 42 50000
    } {slow}
}

start_server {tags {model}} {
    test {20 clients pipelining at once each get their own replies in order} {
        r flushall
        set fds {}
        set want {}
        for {set c 0} {$c < 20} {incr c} {
            set req ""
            set exp ""
            # Kept small enough that unread replies fit in the socket buffers.
            for {set i 0} {$i < 1000} {incr i} {
                set v [string repeat [format %c [expr {65 + $c}]] [expr {($i * 7 + $c) % 300}]]
                append req [::rc::encode [list SET k$c:$i $v]] [::rc::encode [list GET k$c:$i]]
                append exp "+OK\r\n" [model_bulk $v]
            }
            set fd [raw_connect]
            lappend fds $fd
            lappend want $exp
            fconfigure $fd -blocking 1
            puts -nonewline $fd $req
            flush $fd
            fconfigure $fd -blocking 0
        }
        set c 0
        foreach fd $fds exp $want {
            set got [raw_read_n $fd [string length $exp] 30000]
            raw_close $fd
            assert {$got eq $exp} "client $c: replies differ"
            incr c
        }
        assert_equal [r dbsize] 20000
    }
}
