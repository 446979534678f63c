# raftcache integration suite, laid out like redis tests/: this entry point,
# support/ (client, launcher, test primitives) and unit/<family>.tcl.
#
#   tclsh tcl-tests/test_helper.tcl [options]
#     --server-bin PATH   binary to start (default build/raftcache-server);
#                         /usr/bin/redis-server runs the same suite on Redis
#     --host H --port P   external mode: run against an already running server
#     --single NAME       only unit/NAME.tcl (repeatable)
#     --only PATTERN      only tests whose name matches (repeatable)
#     --tags T            only tests tagged T; -T excludes them (repeatable)
#     --slow              include tests tagged slow (excluded by default)
#     --timeout SECS      reply timeout per read (default 10)
#     --failures FILE     write failing tests as a Markdown list to FILE
#     --verbose           list skipped tests
#     --dont-clean        keep tmp/ files of this run even when all passed
# Tests tagged external:skip (they stop the server, or need start-up
# options) are skipped in external mode; tests tagged raftcache-only are
# skipped against redis-server.
# Prints one [ok]/[err] line per test, then "N passed, N failed, N skipped".

set ::root [file dirname [file normalize [info script]]]
source [file join $::root support redis.tcl]
source [file join $::root support test.tcl]
source [file join $::root support server.tcl]
source [file join $::root support util.tcl]

set ::all_units {strings keys expire keyspace connection server config debug replies protocol model connections multi standalone persistence}

proc usage {} {
    puts stderr "usage: tclsh test_helper.tcl ?--server-bin PATH? ?--host H --port P? ?--single NAME? ?--only PAT? ?--tags T? ?--slow? ?--timeout S? ?--failures FILE?"
    exit 2
}

set ::srv::bin [file join [file dirname $::root] build raftcache-server]
set singles {}
set slow 0
set failfile ""
set dont_clean 0
for {set i 0} {$i < [llength $argv]} {incr i} {
    set opt [lindex $argv $i]
    set val [lindex $argv [expr {$i + 1}]]
    switch -- $opt {
        --server-bin { set ::srv::bin $val; incr i }
        --host { set ::srv::ext_host $val; set ::srv::external 1; incr i }
        --port { set ::srv::ext_port $val; set ::srv::external 1; incr i }
        --single { lappend singles $val; incr i }
        --only { lappend ::t::only_tests $val; incr i }
        --tags {
            foreach t $val {
                if {[string index $t 0] eq "-"} {
                    lappend ::t::deny_tags [string range $t 1 end]
                } else {
                    lappend ::t::allow_tags $t
                }
            }
            incr i
        }
        --slow { set slow 1 }
        --timeout { set ::rc::timeout_ms [expr {int($val * 1000)}]; incr i }
        --failures { set failfile $val; incr i }
        --verbose { set ::t::verbose 1 }
        --dont-clean { set dont_clean 1 }
        default { usage }
    }
}
if {!$slow && "slow" ni $::t::allow_tags} { lappend ::t::deny_tags slow }
if {$::srv::external && $::srv::ext_port == 0} { usage }
# Tests that restart, stop or reconfigure the server for good need their own.
if {$::srv::external} { lappend ::t::deny_tags external:skip }
# raftcache's own commands have no counterpart in redis-server.
if {!$::srv::external && [::srv::is_redis]} { lappend ::t::deny_tags raftcache-only }
if {!$::srv::external} {
    set ::srv::bin [file normalize $::srv::bin]
    if {![file executable $::srv::bin]} {
        puts stderr "server binary not found: $::srv::bin"
        exit 2
    }
}

set ::srv::tmpdir [file join $::root tmp]
file mkdir $::srv::tmpdir
set units [expr {[llength $singles] ? $singles : $::all_units}]

set started [clock milliseconds]
foreach u $units {
    set ::t::current_file $u
    puts "=== unit/$u.tcl"
    flush stdout
    if {[catch {source [file join $::root unit $u.tcl]} err]} {
        incr ::t::failed
        lappend ::t::failures [list $u "(file)" $err ""]
        puts "\[err\]: unit/$u.tcl aborted: $err"
    }
}
set secs [expr {([clock milliseconds] - $started) / 1000.0}]

if {[llength $::t::failures]} {
    puts "\n=== failed tests"
    foreach f $::t::failures { puts "  unit/[lindex $f 0]: [lindex $f 1]" }
}
if {$failfile ne ""} {
    set f [open $failfile w]
    foreach item $::t::failures {
        lassign $item file name msg last
        puts $f "- **unit/$file.tcl: $name**"
        if {$last ne ""} { puts $f "  - last command sent: `[string map {` '} $last]`" }
        foreach line [split $msg \n] { puts $f "  - `[string map {` '} [string trim $line]]`" }
    }
    close $f
}
# Server directories and config files of this run carry its PID.
if {!$::t::failed && !$dont_clean} {
    foreach p [glob -nocomplain -directory $::srv::tmpdir *[pid]*] { file delete -force $p }
}
puts "\n$::t::passed passed, $::t::failed failed, $::t::skipped skipped ([format %.1f $secs] s)"
exit [expr {$::t::failed ? 1 : 0}]
