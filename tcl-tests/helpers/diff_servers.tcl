# Differential exploration: the same seeded stream of random string, key and
# server commands (random arguments from a pool of awkward values) against
# two running servers, printing every command whose replies differ.
#   tclsh tcl-tests/helpers/diff_servers.tcl PORT_A PORT_B ?SEED? ?COUNT?
# PORT_A is the server under test, PORT_B the reference (redis-server
# --databases 1). Both are flushed first. Commands whose replies depend on
# time or on hash order (TTL, SCAN, KEYS, RANDOMKEY ...) are left out;
# DBSIZE may still differ when keys with 1 ms TTLs expire at different
# moments. After a difference both keyspaces are flushed to resynchronise.
set root [file dirname [file dirname [file normalize [info script]]]]
source [file join $root support redis.tcl]
source [file join $root support util.tcl]
lassign $argv pa pb seed count
if {$pb eq ""} {
    puts stderr "usage: tclsh diff_servers.tcl PORT_A PORT_B ?SEED? ?COUNT?"
    exit 2
}
if {$seed eq ""} { set seed 1 }
if {$count eq ""} { set count 10000 }
expr {srand($seed)}
set a [redis_client 127.0.0.1 $pa]
set b [redis_client 127.0.0.1 $pb]
$a flushall
$b flushall
set cmds {
    get set setnx setex psetex getset getdel getex mget mset msetnx incr decr
    incrby decrby incrbyfloat append strlen getrange setrange substr del unlink
    exists type rename renamenx expire pexpire expireat pexpireat persist touch
    dbsize select echo ping {object encoding} {object freq} {object refcount}
    {client getname} {client setname} {config get} {command info} {command getkeys}
}
set pool {
    k k k j nokey "" 0 -1 1 2 100 abc 1.5 ex px nx xx gt lt get keepttl persist
    exat pxat match count type string 9223372036854775807 -9223372036854775808
    1e3 " 1" 10000000000 -0 +1 inf 01 x*
}
set diffs 0
for {set i 0} {$i < $count} {incr i} {
    set cmd [lindex $cmds [expr {int(rand() * [llength $cmds])}]]
    set nargs [expr {int(rand() * 5)}]
    for {set j 0} {$j < $nargs} {incr j} {
        lappend cmd [lindex $pool [expr {int(rand() * [llength $pool])}]]
    }
    set ra [$a rawcmd {*}$cmd]
    set rb [$b rawcmd {*}$cmd]
    # A bare COMMAND INFO lists every command; the command sets differ.
    if {$ra eq $rb || $cmd eq "command info"} continue
    incr diffs
    puts "{$cmd}: [resp_diff $rb $ra]"
    $a flushall
    $b flushall
}
puts "$count commands (seed $seed), $diffs differences"
