# Server launcher: start_server writes a config, starts the binary on a free
# loopback port, waits until it answers PING, runs the body with `r` bound
# to a client of it, and stops exactly the PID it started. A server that
# dies during a test fails that test and is restarted for the next one.
# In external mode (--host/--port) the body runs against that server
# instead; overrides are applied with CONFIG SET.

namespace eval ::srv {
    variable bin ""
    variable external 0
    variable ext_host 127.0.0.1
    variable ext_port 0
    variable tmpdir ""
    variable n 0
    variable cur
    variable client ""
}

proc ::srv::is_redis {} {
    return [string match *redis-server* [file tail $::srv::bin]]
}

proc ::srv::free_port {} {
    set s [socket -server {apply {args {}}} -myaddr 127.0.0.1 0]
    set port [lindex [fconfigure $s -sockname] 2]
    close $s
    return $port
}

# Process state from /proc: "" when gone, "Z" when exited but not reaped.
proc ::srv::proc_state {pid} {
    if {[catch {open /proc/$pid/stat r} f]} { return "" }
    set line [read $f]
    close $f
    return [lindex [string range $line [string last ")" $line]+2 end] 0]
}

proc ::srv::alive {pid} {
    set s [::srv::proc_state $pid]
    return [expr {$s ne "" && $s ne "Z"}]
}

proc ::srv::write_config {dir port overrides} {
    set conf [file join $dir server.conf]
    set f [open $conf w]
    puts $f "port $port"
    puts $f "bind 127.0.0.1"
    puts $f "dir [file normalize $dir]"
    puts $f "databases 1"
    if {[::srv::is_redis]} {
        puts $f "save \"\""
        puts $f "appendonly no"
        # The many-connection tests connect from 127.0.0.2-9 as well, which
        # Redis' protected mode would refuse.
        puts $f "protected-mode no"
    }
    foreach {k v} $overrides { puts $f "$k $v" }
    close $f
    return $conf
}

# Try to PING once; 1 when any reply arrives (NOAUTH counts: it is up).
proc ::srv::ping_ok {host port} {
    if {[catch {redis_client $host $port} c]} { return 0 }
    set saved $::rc::timeout_ms
    set ::rc::timeout_ms 1000
    set ok [expr {![catch {$c rawcmd ping} reply] && [string index $reply 0] in {+ -}}]
    set ::rc::timeout_ms $saved
    $c close
    return $ok
}

# Start the process for ::srv::cur; sets cur(pid) and cur(up).
proc ::srv::spawn {} {
    variable cur
    set dir $cur(dir)
    set port [::srv::free_port]
    set conf [::srv::write_config $dir $port $cur(overrides)]
    set cur(port) $port
    set cur(host) 127.0.0.1
    set cur(up) 0
    set cur(pid) [exec $::srv::bin $conf >>$dir/stdout 2>>$dir/stderr &]
    for {set i 0} {$i < 100} {incr i} {
        if {![::srv::alive $cur(pid)]} break
        if {[::srv::ping_ok 127.0.0.1 $port]} { set cur(up) 1; break }
        after 100
    }
    if {!$cur(up)} {
        ::srv::kill_pid $cur(pid)
        puts "!!! server did not start (see $dir/stderr)"
        return 0
    }
    return 1
}

proc ::srv::kill_pid {pid} {
    if {![::srv::alive $pid]} return
    catch {exec kill -TERM $pid}
    for {set i 0} {$i < 50 && [::srv::alive $pid]} {incr i} { after 100 }
    if {[::srv::alive $pid]} { catch {exec kill -KILL $pid} }
}

# A sanitizer build reports memory errors and leaks on stderr: each server
# whose stderr holds such a report counts as one failure.
proc ::srv::check_sanitizer_reports {dir} {
    set path [file join $dir stderr]
    if {![file exists $path]} return
    set f [open $path]
    set text [read $f]
    close $f
    set i [string first "ERROR: AddressSanitizer" $text]
    if {$i < 0} { set i [string first "ERROR: LeakSanitizer" $text] }
    if {$i < 0} { set i [string first "runtime error:" $text] }
    if {$i < 0} return
    set excerpt [string range $text [expr {max(0, $i - 100)}] [expr {$i + 1500}]]
    incr ::t::failed
    lappend ::t::failures [list $::t::current_file "(sanitizer report in $path)" $excerpt ""]
    puts "\[err\]: sanitizer report in $path"
    puts $excerpt
}

proc ::srv::connect_default {} {
    variable cur
    if {$::srv::client ne ""} { catch {$::srv::client close} }
    set ::srv::client ""
    if {!$cur(up)} return
    if {[catch {redis_client $cur(host) $cur(port)} c]} return
    set ::srv::client $c
}

# The default client of the current server.
proc r {args} {
    if {$::srv::client eq ""} { error "server not running" }
    return [$::srv::client {*}$args]
}

# srv port|host|pid|dir|stdout|stderr
proc srv {what} {
    switch -- $what {
        stdout - stderr { return [file join $::srv::cur(dir) $what] }
        default { return $::srv::cur($what) }
    }
}

proc new_client {args} {
    return [redis_client $::srv::cur(host) $::srv::cur(port) {*}$args]
}

# A test that stops the server itself says so, so it is not taken for a crash.
proc server_stopped_on_purpose {} { set ::srv::cur(up) 0 }

proc server_is_redis {} { return [::srv::is_redis] }

# Called by `test` after each body: a crashed server fails that test.
proc ::t::server_check {} {
    if {$::srv::external || ![info exists ::srv::cur(pid)]} { return "" }
    if {!$::srv::cur(up) || [::srv::alive $::srv::cur(pid)]} { return "" }
    set err "server process $::srv::cur(pid) died (see $::srv::cur(dir)/stderr)"
    puts "!!! $err; restarting it"
    if {[::srv::spawn]} { ::srv::connect_default }
    return $err
}

proc ::t::server_hung {} {
    if {$::srv::external || ![info exists ::srv::cur(pid)] || !$::srv::cur(up)} return
    puts "!!! server process $::srv::cur(pid) stopped answering; restarting it"
    ::srv::kill_pid $::srv::cur(pid)
    if {[::srv::spawn]} { ::srv::connect_default }
}

proc start_server {opts body} {
    variable ::srv::cur
    set overrides [expr {[dict exists $opts overrides] ? [dict get $opts overrides] : {}}]
    set tags [expr {[dict exists $opts tags] ? [dict get $opts tags] : {}}]
    array set saved [array get ::srv::cur]
    set saved_client $::srv::client
    array unset ::srv::cur
    set ::srv::cur(overrides) $overrides
    if {$::srv::external && "external:skip" in $tags} {
        # Every test inside is skipped: leave the external server alone.
        set ::srv::cur(up) 0
        set ::srv::cur(dir) $::srv::tmpdir
    } elseif {$::srv::external} {
        set ::srv::cur(host) $::srv::ext_host
        set ::srv::cur(port) $::srv::ext_port
        set ::srv::cur(up) 1
        set ::srv::cur(dir) $::srv::tmpdir
        ::srv::connect_default
        catch {r flushall}
        foreach {k v} $overrides { catch {r config set $k $v} }
    } else {
        set ::srv::cur(dir) [file join $::srv::tmpdir server.[pid].[incr ::srv::n]]
        file mkdir $::srv::cur(dir)
        ::srv::spawn
        ::srv::connect_default
    }
    set code [catch {uplevel 1 [list tags $tags $body]} msg opts2]
    if {$::srv::client ne ""} { catch {$::srv::client close} }
    if {!$::srv::external && [info exists ::srv::cur(pid)]} {
        ::srv::kill_pid $::srv::cur(pid)
        ::srv::check_sanitizer_reports $::srv::cur(dir)
    }
    array unset ::srv::cur
    array set ::srv::cur [array get saved]
    set ::srv::client $saved_client
    if {$code == 1} {
        # An error outside any test block: count it so it cannot pass silently.
        incr ::t::failed
        lappend ::t::failures [list $::t::current_file "(outside a test)" $msg ""]
        puts "\[err\]: error outside a test: $msg"
    }
}
