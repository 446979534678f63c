# The test primitives: `test`, the assert_* family, tags and the counters.
# A test is one named block; it passes when its body returns without error.
# Failures are recorded with their message and the suite carries on, so one
# broken command cannot hide the state of the others.

namespace eval ::t {
    variable passed 0
    variable failed 0
    variable skipped 0
    variable failures {}
    variable tags {}
    variable allow_tags {}
    variable deny_tags {}
    variable only_tests {}
    variable verbose 0
}

# tags {slow} { ... }: every test inside carries these tags.
proc tags {list body} {
    set saved $::t::tags
    lappend ::t::tags {*}$list
    set code [catch {uplevel 1 $body} msg opts]
    set ::t::tags $saved
    return -options $opts $msg
}

proc ::t::selected {name tags} {
    foreach d $::t::deny_tags { if {$d in $tags} { return 0 } }
    foreach a $::t::allow_tags { if {$a ni $tags} { return 0 } }
    if {[llength $::t::only_tests]} {
        foreach pat $::t::only_tests { if {[string match $pat $name]} { return 1 } }
        return 0
    }
    return 1
}

proc test {name body {tags {}}} {
    set all [concat $::t::tags $tags]
    if {![::t::selected $name $all]} {
        incr ::t::skipped
        if {$::t::verbose} { puts "\[skip\]: $name" }
        return
    }
    set start [clock milliseconds]
    set ::rc::last ""
    set code [catch {uplevel 1 $body} msg opts]
    set ms [expr {[clock milliseconds] - $start}]
    set crash [::t::server_check]
    if {$crash ne ""} { set code 1; set msg "$crash; test said: $msg" }
    if {$code == 1 && [string match "*I/O timeout*" $msg]} { ::t::server_hung }
    if {$code == 0 || $code == 2} {
        incr ::t::passed
        puts "\[ok\]: $name (${ms} ms)"
    } else {
        incr ::t::failed
        lappend ::t::failures [list $::t::current_file $name $msg $::rc::last]
        puts "\[err\]: $name"
        puts "    $msg"
        if {$::rc::last ne ""} { puts "    (last command sent: $::rc::last)" }
    }
    flush stdout
}

# Replaced by the server launcher: checks the server process is still alive
# so a crash is blamed on the test that caused it. Returns "" when fine.
proc ::t::server_check {} { return "" }

# Replaced by the server launcher: a server that stopped answering is
# restarted so the tests after this one do not each wait for the timeout.
proc ::t::server_hung {} {}

proc assert_equal {value expected {detail ""}} {
    if {$value ne $expected} {
        error "Expected '$expected' but got '$value'[expr {$detail ne "" ? " ($detail)" : ""}]"
    }
}

proc assert_not_equal {value unexpected} {
    if {$value eq $unexpected} { error "Expected something other than '$unexpected'" }
}

proc assert_match {pattern value} {
    if {![string match $pattern $value]} {
        error "Expected '$value' to match '$pattern'"
    }
}

proc assert_range {value min max} {
    if {!($value >= $min && $value <= $max)} {
        error "Expected '$value' to be between $min and $max"
    }
}

proc assert {cond {msg ""}} {
    if {![uplevel 1 [list expr $cond]]} {
        error "Assertion failed: $cond $msg"
    }
}

# assert_error PATTERN CODE: CODE must raise an error matching PATTERN.
proc assert_error {pattern code} {
    if {[catch {uplevel 1 $code} msg]} {
        if {![string match $pattern $msg]} {
            error "Expected an error matching '$pattern' but got '$msg'"
        }
        return
    }
    error "Expected an error matching '$pattern' but got reply '$msg'"
}

# Retry CODE until COND holds, at most COUNT times with DELAY ms between.
proc wait_for_condition {count delay cond {failmsg "condition never met"}} {
    for {set i 0} {$i < $count} {incr i} {
        if {[uplevel 1 [list expr $cond]]} return
        after $delay
    }
    error "$failmsg: $cond"
}

proc assert_sorted_equal {value expected} {
    assert_equal [lsort $value] [lsort $expected]
}

proc assert_no_match {pattern value} {
    if {[string match $pattern $value]} {
        error "Expected '$value' not to match '$pattern'"
    }
}
