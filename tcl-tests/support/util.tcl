# Helpers shared by the unit files: raw sockets for protocol tests, and
# small conveniences over the client.

# A raw socket to the current server, non-blocking, binary.
proc raw_connect {} {
    set fd [socket $::srv::cur(host) $::srv::cur(port)]
    fconfigure $fd -translation binary -blocking 0 -buffering none
    return $fd
}

proc raw_send {fd bytes} {
    puts -nonewline $fd $bytes
    flush $fd
}

# Read whatever the server sends until it closes the connection or has been
# quiet for QUIET ms (at most TOTAL ms overall). Returns {bytes closed}.
proc raw_read_until_quiet {fd {quiet 300} {total 5000}} {
    set buf ""
    set deadline [expr {[clock milliseconds] + $total}]
    set last [clock milliseconds]
    while {[clock milliseconds] < $deadline} {
        if {[catch {read $fd} chunk]} { return [list $buf 1] }
        if {$chunk ne ""} {
            append buf $chunk
            set last [clock milliseconds]
            continue
        }
        if {[eof $fd]} { return [list $buf 1] }
        if {[clock milliseconds] - $last > $quiet} break
        after 5
    }
    return [list $buf 0]
}

# Read until BYTES bytes arrived or the connection closed, bounded by TOTAL ms.
proc raw_read_n {fd n {total 10000}} {
    set buf ""
    set deadline [expr {[clock milliseconds] + $total}]
    while {[string length $buf] < $n && [clock milliseconds] < $deadline} {
        if {[catch {read $fd} chunk]} break
        if {$chunk eq ""} {
            if {[eof $fd]} break
            after 2
            continue
        }
        append buf $chunk
    }
    return $buf
}

# True when the server has closed FD (reads EOF within TOTAL ms).
proc raw_closed {fd {total 3000}} {
    lassign [raw_read_until_quiet $fd $total $total] buf closed
    return $closed
}

proc raw_close {fd} { catch {close $fd} }

# The server still serves a fresh client.
proc assert_server_alive {} {
    set c [new_client]
    set reply [$c ping]
    $c close
    assert_equal $reply PONG
}

# Value of FIELD in an INFO reply.
proc info_field {info field} {
    foreach line [split $info "\r\n"] {
        if {[string match "$field:*" $line]} {
            return [string range $line [string length $field]+1 end]
        }
    }
    return ""
}

# Field names of an INFO reply, in order (section headers left out).
proc info_keys {info} {
    set keys {}
    foreach line [split $info "\r\n"] {
        if {$line eq "" || [string index $line 0] eq "#"} continue
        lappend keys [lindex [split $line :] 0]
    }
    return $keys
}

# Run CODE with a fresh client in variable NAME, closing it afterwards.
proc with_client {name code} {
    upvar 1 $name c
    set c [new_client]
    set rc [catch {uplevel 1 $code} msg opts]
    catch {$c close}
    return -options $opts $msg
}

# End offset (exclusive) of the RESP reply starting at POS in BYTES.
proc resp_reply_end {bytes pos} {
    set eol [string first "\r\n" $bytes $pos]
    if {$eol < 0} { return [string length $bytes] }
    set type [string index $bytes $pos]
    set n [string range $bytes $pos+1 $eol-1]
    set next [expr {$eol + 2}]
    switch -exact -- $type {
        $ - = - ! { if {$n >= 0} { incr next [expr {$n + 2}] } }
        * - ~ - > { for {set k 0} {$k < $n} {incr k} { set next [resp_reply_end $bytes $next] } }
        % - | {
            for {set k 0} {$k < 2 * $n} {incr k} { set next [resp_reply_end $bytes $next] }
            if {$type eq "|"} { set next [resp_reply_end $bytes $next] }
        }
    }
    return $next
}

# The raw replies in BYTES, one list element each.
proc resp_split {bytes} {
    set out {}
    set pos 0
    while {$pos < [string length $bytes]} {
        set end [resp_reply_end $bytes $pos]
        lappend out [string range $bytes $pos $end-1]
        set pos $end
    }
    return $out
}

# Raw reply bytes shown on one line: CRLF as \r\n, cut at 300 bytes.
proc resp_show {bytes} {
    set s [string map {"\r\n" {\r\n}} $bytes]
    if {[string length $s] > 300} { set s "[string range $s 0 299]..." }
    return "'$s'"
}

# "expected X got Y" for two raw replies; long ones are shown from a little
# before their first differing byte.
proc resp_diff {want got} {
    if {[string length $want] <= 300 && [string length $got] <= 300} {
        return "expected [resp_show $want] got [resp_show $got]"
    }
    set i 0
    set n [expr {min([string length $want], [string length $got])}]
    while {$i < $n && [string index $want $i] eq [string index $got $i]} { incr i }
    set from [expr {max(0, $i - 80)}]
    return "differs at byte $i: expected ...[resp_show [string range $want $from $from+239]] got ...[resp_show [string range $got $from $from+239]]"
}

# Send BYTES in one write on a fresh connection; return what came back until
# the server went quiet, followed by "<closed>" when it closed the connection.
proc raw_exchange {bytes {quiet 150}} {
    set fd [raw_connect]
    fconfigure $fd -blocking 1
    catch {puts -nonewline $fd $bytes; flush $fd}
    fconfigure $fd -blocking 0
    lassign [raw_read_until_quiet $fd $quiet 5000] buf closed
    raw_close $fd
    if {$closed} { append buf "<closed>" }
    return $buf
}
