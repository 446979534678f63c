# Runner of the cluster scenarios (integration/<scenario>.tcl): the same
# client, test primitives and process helpers as test_helper.tcl (support/),
# plus helpers/cluster.tcl, which starts real 3-node clusters on free
# loopback ports. Every test carries the `cluster` tag.
#
#   tclsh tcl-tests/integration/run.tcl [options]
#     --server-bin PATH        binary (default build/raftcache-server)
#     --single NAME            only integration/NAME.tcl (repeatable)
#     --only PATTERN           only tests whose name matches (repeatable)
#     --election-timeout MS    raft-election-timeout of every node (300)
#     --timeout SECS           reply timeout per read (default 10)
#     --failures FILE          failing tests as a Markdown list
#     --verbose                list skipped tests
# Prints one [ok]/[err] line per test, then "N passed, N failed, N skipped".

set ::root [file dirname [file dirname [file normalize [info script]]]]
source [file join $::root support redis.tcl]
source [file join $::root support test.tcl]
source [file join $::root support server.tcl]
source [file join $::root support util.tcl]
source [file join $::root integration helpers cluster.tcl]

set ::all_scenarios {formation replication failover restart catchup partition membership expire eviction follower_reads clients clients_watch}

set ::srv::bin [file join [file dirname $::root] build raftcache-server]
set singles {}
set failfile ""
set slow 0
for {set i 0} {$i < [llength $argv]} {incr i} {
    set opt [lindex $argv $i]
    set val [lindex $argv [expr {$i + 1}]]
    switch -- $opt {
        --server-bin { set ::srv::bin $val; incr i }
        --single { lappend singles $val; incr i }
        --only { lappend ::t::only_tests $val; incr i }
        --election-timeout { set ::cl::et $val; set ::cl::hb [expr {max(10, $val / 6)}]; incr i }
        --timeout { set ::rc::timeout_ms [expr {int($val * 1000)}]; incr i }
        --failures { set failfile $val; incr i }
        --verbose { set ::t::verbose 1 }
        --slow { set slow 1 }
        default {
            puts stderr "usage: tclsh run.tcl ?--server-bin PATH? ?--single NAME? ?--only PAT? ?--election-timeout MS? ?--timeout S? ?--failures FILE? ?--slow?"
            exit 2
        }
    }
}
# Tests tagged slow (long, or known to fail on an overloaded machine) run
# only with --slow, which the cluster layer passes under FULL=1.
if {!$slow} { lappend ::t::deny_tags slow }
set ::srv::bin [file normalize $::srv::bin]
if {![file executable $::srv::bin]} {
    puts stderr "server binary not found: $::srv::bin"
    exit 2
}
set ::srv::tmpdir [file join $::root tmp]
file mkdir $::srv::tmpdir
expr {srand([pid])}

set started [clock milliseconds]
foreach u [expr {[llength $singles] ? $singles : $::all_scenarios}] {
    set ::t::current_file $u
    puts "=== integration/$u.tcl"
    flush stdout
    set code [catch {tags cluster { source [file join $::root integration $u.tcl] }} err]
    cluster_stop
    if {$code} {
        incr ::t::failed
        lappend ::t::failures [list $u "(file)" $err ""]
        puts "\[err\]: integration/$u.tcl aborted: $err"
    }
}
set secs [expr {([clock milliseconds] - $started) / 1000.0}]

if {[llength $::t::failures]} {
    puts "\n=== failed tests"
    foreach f $::t::failures { puts "  integration/[lindex $f 0]: [lindex $f 1]" }
}
if {$failfile ne ""} {
    set f [open $failfile w]
    foreach item $::t::failures {
        lassign $item file name msg last
        puts $f "- **integration/$file.tcl: $name**"
        if {$last ne ""} { puts $f "  - last command sent: `[string map {` '} $last]`" }
        puts $f "  - [string map {\n { }} $msg]"
    }
    close $f
}
puts "\n$::t::passed passed, $::t::failed failed, $::t::skipped skipped ([format %.1f $secs] s)"
exit [expr {$::t::failed ? 1 : 0}]
