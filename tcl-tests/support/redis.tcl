# RESP2/RESP3 client in pure Tcl, in the manner of redis tests/support/redis.tcl.
# A handle is a command: `set r [redis_client 127.0.0.1 6379]; $r set k v`.
# Error replies raise a Tcl error whose message is the error text verbatim
# (without the leading '-'), so tests compare them byte for byte. Every read
# is bounded by a timeout, so a server that stops answering fails the test
# instead of hanging the suite. Sub-commands of the handle itself:
#   $r deferred 0|1   send without reading; `$r read` fetches a reply
#   $r readraw 0|1    every read returns one protocol line as received
#   $r write BYTES    send raw bytes; $r flush; $r close; $r channel
#   $r rawcmd CMD ... send a command, return its whole reply as the exact
#                     bytes received (CRLFs included), for checking shapes
#   $r poll 0|1       wait for data by polling instead of fileevent (Tcl 8.6
#                     uses select(), which aborts on descriptors >= 1024)
# RESP3 values decode as Redis' own test client does: maps and attributes
# to flat key/value lists, sets and pushes to lists, null to {}, booleans to
# 1/0, doubles to their text ("inf", "-inf", "nan" as sent), verbatim
# strings without their "txt:" prefix, big numbers to their digits.

namespace eval ::rc {
    variable id 0
    variable timeout_ms 10000
    variable st
    variable last ""
}

proc redis_client {host port args} {
    set fd [socket $host $port]
    fconfigure $fd -translation binary -blocking 0 -buffering full -buffersize 1048576
    set h ::rc::client[incr ::rc::id]
    set ::rc::st($h,fd) $fd
    set ::rc::st($h,deferred) 0
    set ::rc::st($h,readraw) 0
    set ::rc::st($h,poll) 0
    foreach {k v} $args { set ::rc::st($h,[string trimleft $k -]) $v }
    interp alias {} $h {} ::rc::dispatch $h
    return $h
}

proc ::rc::dispatch {h cmd args} {
    variable st
    switch -exact -- $cmd {
        deferred - readraw - poll { set st($h,$cmd) [lindex $args 0]; return }
        channel { return $st($h,fd) }
        close { ::rc::close_handle $h; return }
        write { puts -nonewline $st($h,fd) [lindex $args 0]; flush $st($h,fd); return }
        flush { flush $st($h,fd); return }
        read { return [::rc::read_reply $h] }
        rawcmd {
            set ::rc::last [string range $args 0 200]
            puts -nonewline $st($h,fd) [::rc::encode $args]
            flush $st($h,fd)
            return [::rc::read_raw_reply $h]
        }
        rawread { return [::rc::read_raw_reply $h] }
    }
    set ::rc::last [string range [list $cmd {*}$args] 0 200]
    puts -nonewline $st($h,fd) [::rc::encode [list $cmd {*}$args]]
    flush $st($h,fd)
    if {$st($h,deferred)} return
    return [::rc::read_reply $h]
}

# One command as a RESP multibulk, arguments taken as bytes.
proc ::rc::encode {argv} {
    set out "*[llength $argv]\r\n"
    # Arguments are byte strings (characters 0-255), sent as they are.
    foreach a $argv {
        append out "\$[string length $a]\r\n$a\r\n"
    }
    return $out
}

proc ::rc::close_handle {h} {
    variable st
    catch {close $st($h,fd)}
    array unset st $h,*
    catch {interp alias {} $h {}}
}

# Wait until $fd has data or is at EOF; error on timeout.
proc ::rc::wait_readable {h} {
    variable st
    variable timeout_ms
    set fd $st($h,fd)
    if {$st($h,poll)} {
        # Caller retries its non-blocking read; a short sleep bounds spinning.
        after 1
        incr st($h,waited)
        if {$st($h,waited) > $timeout_ms} { error "I/O timeout reading reply" }
        return
    }
    set var ::rc::ev($fd)
    set $var ""
    fileevent $fd readable [list set $var r]
    set tid [after $timeout_ms [list set $var t]]
    vwait $var
    after cancel $tid
    fileevent $fd readable {}
    set r [set $var]
    unset $var
    if {$r eq "t"} { error "I/O timeout reading reply" }
}

proc ::rc::read_line {h} {
    variable st
    set fd $st($h,fd)
    set st($h,waited) 0
    while 1 {
        if {[gets $fd line] >= 0} {
            if {[string index $line end] eq "\r"} { set line [string range $line 0 end-1] }
            return $line
        }
        if {[eof $fd]} { error "I/O error reading reply: connection closed" }
        ::rc::wait_readable $h
    }
}

proc ::rc::read_bytes {h n} {
    variable st
    set fd $st($h,fd)
    set st($h,waited) 0
    set buf ""
    while {[string length $buf] < $n} {
        set chunk [read $fd [expr {$n - [string length $buf]}]]
        append buf $chunk
        if {[string length $buf] >= $n} break
        if {[eof $fd]} { error "I/O error reading reply: connection closed" }
        if {$chunk eq ""} { ::rc::wait_readable $h }
    }
    return $buf
}

proc ::rc::read_bulk {h len} {
    if {$len < 0} { return {} }
    set b [::rc::read_bytes $h [expr {$len + 2}]]
    return [string range $b 0 end-2]
}

proc ::rc::read_items {h n} {
    set l {}
    for {set i 0} {$i < $n} {incr i} { lappend l [::rc::read_reply $h] }
    return $l
}

proc ::rc::read_reply {h} {
    variable st
    set line [::rc::read_line $h]
    if {$st($h,readraw)} { return $line }
    set type [string index $line 0]
    set rest [string range $line 1 end]
    switch -exact -- $type {
        + { return $rest }
        - { return -code error $rest }
        : { return $rest }
        ( { return $rest }
        , { return $rest }
        _ { return {} }
        # { return [expr {$rest eq "t" ? 1 : 0}] }
        $ { return [::rc::read_bulk $h $rest] }
        = {
            set v [::rc::read_bulk $h $rest]
            return [string range $v 4 end]
        }
        ! { return -code error [::rc::read_bulk $h $rest] }
        * - ~ - > {
            if {$rest < 0} { return {} }
            return [::rc::read_items $h $rest]
        }
        % { return [::rc::read_items $h [expr {2 * $rest}]] }
        | {
            # Attribute: read and drop it, then the reply it annotates.
            ::rc::read_items $h [expr {2 * $rest}]
            return [::rc::read_reply $h]
        }
        default { error "protocol error from server: unexpected line '$line'" }
    }
}

# One complete reply as the exact bytes the server sent.
proc ::rc::read_raw_reply {h} {
    set line [::rc::read_line $h]
    set out "$line\r\n"
    set type [string index $line 0]
    set n [string range $line 1 end]
    switch -exact -- $type {
        $ - = - ! {
            if {$n >= 0} { append out [::rc::read_bytes $h [expr {$n + 2}]] }
        }
        * - ~ - > {
            for {set i 0} {$i < $n} {incr i} { append out [::rc::read_raw_reply $h] }
        }
        % - | {
            for {set i 0} {$i < 2 * $n} {incr i} { append out [::rc::read_raw_reply $h] }
            if {$type eq "|"} { append out [::rc::read_raw_reply $h] }
        }
    }
    return $out
}
