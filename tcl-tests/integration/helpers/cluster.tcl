# Cluster launcher for the integration scenarios: starts N real raftcache
# processes on free loopback ports (client port P and bus port P+10000 both
# free), each with its own directory under tcl-tests/tmp/, and stops exactly
# the PIDs it started. Also the cluster-side conveniences the scenarios
# share: INFO raft fields, waiting for a leader and for convergence, digests,
# a client that follows -MOVED and retries CLUSTERDOWN, background
# redis-benchmark load. Every wait is bounded in time.

namespace eval ::cl {
    variable et 300          ;# raft-election-timeout for every node, ms
    variable hb 50           ;# raft-heartbeat-interval, ms
    variable secret "integration-secret"
    variable nodes {}        ;# indices of the nodes of the current cluster
    variable node            ;# node(i,port|dir|pid|conf|overrides|up)
    variable client          ;# client(i): cached connection to node i
    variable n 0             ;# directory counter
    variable bg {}           ;# PIDs of background programs (benchmarks)
    variable used_ports {}
}

# A port P in 20000-29999 such that P and P+10000 can both be bound now.
proc ::cl::free_port_pair {} {
    for {set i 0} {$i < 200} {incr i} {
        set p [expr {20000 + int(rand() * 10000)}]
        if {$p in $::cl::used_ports} continue
        set ok 1
        foreach q [list $p [expr {$p + 10000}]] {
            if {[catch {socket -server {apply {args {}}} -myaddr 127.0.0.1 $q} s]} {
                set ok 0
                break
            }
            close $s
        }
        if {$ok} {
            lappend ::cl::used_ports $p
            return $p
        }
    }
    error "no free port pair found"
}

proc ::cl::write_config {i peers} {
    variable node
    set f [open $node($i,conf) w]
    puts $f "port $node($i,port)"
    puts $f "cluster-port [expr {$node($i,port) + 10000}]"
    puts $f "bind 127.0.0.1"
    puts $f "dir [file normalize $node($i,dir)]"
    puts $f "cluster-secret $::cl::secret"
    puts $f "raft-election-timeout $::cl::et"
    puts $f "raft-heartbeat-interval $::cl::hb"
    puts $f "enable-debug-command yes"
    if {$peers ne ""} { puts $f "cluster-peers $peers" }
    foreach {k v} $node($i,overrides) { puts $f "$k $v" }
    close $f
}

# Create node I (not started): ports, directory, config.
proc ::cl::define_node {i overrides} {
    variable node
    set node($i,port) [::cl::free_port_pair]
    set node($i,dir) [file join $::srv::tmpdir cluster.[pid].[incr ::cl::n].node$i]
    file mkdir $node($i,dir)
    set node($i,conf) [file join $node($i,dir) node.conf]
    set node($i,overrides) $overrides
    set node($i,pid) 0
    set node($i,up) 0
}

# Start node I's process; 1 when it answers PING within 15 s.
proc ::cl::spawn {i} {
    variable node
    set d $node($i,dir)
    set node($i,pid) [exec $::srv::bin $node($i,conf) >>$d/stdout 2>>$d/stderr &]
    set node($i,up) 0
    for {set k 0} {$k < 150} {incr k} {
        if {![::srv::alive $node($i,pid)]} break
        if {[::srv::ping_ok 127.0.0.1 $node($i,port)]} {
            set node($i,up) 1
            return 1
        }
        after 100
    }
    set tail ""
    catch {set tail [exec tail -n 3 $d/stderr $d/stdout]}
    ::srv::kill_pid $node($i,pid)
    error "node $i did not start: [string map {\n { | }} $tail]"
}

# cluster_start ?-n 3? ?-overrides {k v}? ?-peers static|none?
# Starts the nodes (static: each gets the others in cluster-peers) and, for
# static peers, waits for a leader. Returns the list of node indices.
proc cluster_start {args} {
    array set o {-n 3 -overrides {} -peers static}
    array set o $args
    cluster_stop
    set ::cl::nodes {}
    for {set i 1} {$i <= $o(-n)} {incr i} {
        ::cl::define_node $i $o(-overrides)
        lappend ::cl::nodes $i
    }
    foreach i $::cl::nodes {
        set peers {}
        if {$o(-peers) eq "static"} {
            foreach j $::cl::nodes {
                if {$j != $i} { lappend peers 127.0.0.1:$::cl::node($j,port) }
            }
        }
        ::cl::write_config $i [join $peers ,]
    }
    # A cluster that cannot start leaves nothing behind, so the tests after
    # it fail at once (need_cluster) instead of waiting for a leader.
    if {[catch {
        foreach i $::cl::nodes { ::cl::spawn $i }
        if {$o(-peers) eq "static"} { wait_leader }
    } msg]} {
        cluster_stop
        error $msg
    }
    return $::cl::nodes
}

# Add node I (fresh, no peers) to the set; started, not joined.
proc cluster_add_fresh_node {i {overrides {}}} {
    ::cl::define_node $i $overrides
    ::cl::write_config $i ""
    lappend ::cl::nodes $i
    ::cl::spawn $i
}

# A node's WAL and snapshots (tens of MB each) go once it has stopped; its
# config, stdout and stderr stay for reading after a failure.
proc ::cl::drop_data {dir} {
    foreach f [glob -nocomplain -directory $dir *] {
        if {[file tail $f] ni {node.conf stdout stderr}} { file delete -force $f }
    }
}

# Stop node I and leave it out of the cluster's node list.
proc forget_node {i} {
    if {[node_alive $i]} { stop_node $i }
    set ::cl::nodes [lsearch -all -inline -not -exact $::cl::nodes $i]
}

# as_new_member I BODY: BODY brings node I in; if it fails, node I is
# stopped and forgotten so the steps after it see only the old members.
proc as_new_member {i body} {
    set code [catch {uplevel 1 $body} msg opts]
    if {$code == 1} { forget_node $i }
    return -options $opts $msg
}

proc cluster_stop {} {
    ::cl::stop_background
    foreach key [array names ::cl::client] { catch {$::cl::client($key) close} }
    array unset ::cl::client
    foreach i [array names ::cl::node *,dir] {
        set i [lindex [split $i ,] 0]
        if {$::cl::node($i,pid)} { ::srv::kill_pid $::cl::node($i,pid) }
        set ::cl::node($i,up) 0
        ::cl::drop_data $::cl::node($i,dir)
    }
    set ::cl::nodes {}
    set ::cl::target ""
    set ::cl::exclude {}
    array unset ::cl::node
}

# with_cluster {cluster_start options} BODY: the cluster is stopped afterwards,
# whatever BODY does.
proc with_cluster {opts body} {
    set code [catch {cluster_start {*}$opts} msg]
    if {$code == 0} { set code [catch {uplevel 1 $body} msg] }
    cluster_stop
    if {$code == 1} { error $msg }
}

proc node_port {i} { return $::cl::node($i,port) }
proc node_pid {i} { return $::cl::node($i,pid) }
proc node_addr {i} { return 127.0.0.1:$::cl::node($i,port) }
proc node_alive {i} { return [expr {$::cl::node($i,pid) && [::srv::alive $::cl::node($i,pid)]}] }

# Node index from a "host:port" client address ("" when not ours).
proc node_by_addr {addr} {
    set port [lindex [split $addr :] end]
    foreach i $::cl::nodes { if {$::cl::node($i,port) == $port} { return $i } }
    return ""
}

proc kill_node {i} {
    ::cl::drop_client $i
    catch {exec kill -KILL $::cl::node($i,pid)}
    for {set k 0} {$k < 50 && [::srv::alive $::cl::node($i,pid)]} {incr k} { after 20 }
    set ::cl::node($i,up) 0
}

proc stop_node {i} {
    ::cl::drop_client $i
    ::srv::kill_pid $::cl::node($i,pid)
    set ::cl::node($i,up) 0
}

proc restart_node {i} {
    if {[node_alive $i]} { stop_node $i }
    ::cl::spawn $i
}

proc ::cl::drop_client {i} {
    if {[info exists ::cl::client($i)]} {
        catch {$::cl::client($i) close}
        unset ::cl::client($i)
    }
}

# ncmd I CMD ...: CMD on node I over a cached connection (reconnected after
# an I/O error). Server errors come back as Tcl errors, verbatim.
proc ncmd {i args} {
    if {![info exists ::cl::client($i)]} {
        set ::cl::client($i) [redis_client 127.0.0.1 $::cl::node($i,port)]
    }
    set code [catch {$::cl::client($i) {*}$args} reply]
    if {$code && [string match "I/O*" $reply]} { ::cl::drop_client $i }
    if {$code} { error $reply }
    return $reply
}

# ncmd with a reply timeout of MS for this one command.
proc ncmd_timeout {ms i args} {
    set saved $::rc::timeout_ms
    set ::rc::timeout_ms $ms
    set code [catch {ncmd $i {*}$args} reply]
    set ::rc::timeout_ms $saved
    if {$code} { error $reply }
    return $reply
}

# One INFO raft field of node I ("" when the node does not answer).
proc raft_field {i field} {
    if {[catch {ncmd_timeout 2000 $i info raft} info]} { return "" }
    return [info_field $info $field]
}

proc node_id {i} { return [raft_field $i raft_node_id] }

# Every node but i.
proc nodes_except {i} {
    set others {}
    foreach n $::cl::nodes { if {$n != $i} { lappend others $n } }
    return $others
}

# Cuts node lone off from others in both directions (DEBUG RAFT-PARTITION).
proc partition_isolate {lone others} {
    set ids {}
    foreach o $others { lappend ids [node_id $o] }
    assert_equal [ncmd $lone debug raft-partition {*}$ids] OK
    foreach o $others { assert_equal [ncmd $o debug raft-partition [node_id $lone]] OK }
}

# Lifts every partition on the nodes that run.
proc partition_heal {} {
    foreach i $::cl::nodes { if {[node_alive $i]} { assert_equal [ncmd $i debug raft-partition] OK } }
}

# Index of the node that is leader and is recognised as such by every other
# live node among CANDIDATES (default: the live nodes); waits at most MS.
proc wait_leader {{ms 10000} {candidates {}}} {
    if {$candidates eq ""} {
        foreach i $::cl::nodes { if {[node_alive $i]} { lappend candidates $i } }
    }
    if {$candidates eq ""} { error "no live node to lead" }
    set deadline [expr {[clock milliseconds] + $ms}]
    while 1 {
        set l [::cl::agreed_leader $candidates]
        if {$l ne ""} { return $l }
        if {[clock milliseconds] > $deadline} break
        after 20
    }
    error "no leader among nodes {$candidates} after $ms ms ([cluster_roles $candidates])"
}

# Leadership moved to a node other than OLD (TARGET if given) within 3 s.
proc wait_leader_moved {old {target ""}} {
    set nl ""
    for {set k 0} {$k < 30} {incr k} {
        catch {set nl [wait_leader 1000]}
        if {$nl ne "" && $nl != $old && ($target eq "" || $nl == $target)} { return $nl }
        after 100
    }
    error "leadership did not move from node $old[expr {$target ne "" ? " to node $target" : ""}] (now node $nl)"
}

proc ::cl::agreed_leader {candidates} {
    set leader ""
    foreach i $candidates {
        if {[raft_field $i raft_role] eq "leader"} { set leader $i }
    }
    if {$leader eq ""} { return "" }
    set id [node_id $leader]
    foreach i $candidates {
        if {$i != $leader && [raft_field $i raft_leader_id] ne $id} { return "" }
    }
    return $leader
}

# "node1=leader/t3 node2=follower/t3 ..." for error messages.
proc cluster_roles {{which {}}} {
    if {$which eq ""} { set which $::cl::nodes }
    set out {}
    foreach i $which {
        lappend out "node$i=[raft_field $i raft_role]/t[raft_field $i raft_term]/a[raft_field $i raft_applied_index]"
    }
    return [join $out " "]
}

# Wait (at most MS) until every node in WHICH (default: live nodes) has
# applied the leader's commit index and they agree; returns that index.
proc wait_converged {{ms 20000} {which {}}} {
    if {$which eq ""} {
        foreach i $::cl::nodes { if {[node_alive $i]} { lappend which $i } }
    }
    set deadline [expr {[clock milliseconds] + $ms}]
    while {[clock milliseconds] < $deadline} {
        set idx {}
        foreach i $which { lappend idx [raft_field $i raft_applied_index] }
        set leader ""
        foreach i $which { if {[raft_field $i raft_role] eq "leader"} { set leader $i } }
        if {$leader ne "" && [llength [lsort -unique $idx]] == 1 && [lindex $idx 0] ne ""
            && [lindex $idx 0] >= [raft_field $leader raft_commit_index]} {
            return [lindex $idx 0]
        }
        after 50
    }
    error "nodes did not converge in $ms ms ([cluster_roles $which])"
}

# Waits until every live node's CLUSTER SLOTS lists the leader and all
# other live members: a member whose bus link is still coming up (just
# restarted) is flagged fail and left out, and Redis Cluster clients read
# their topology from that reply.
proc wait_slots_complete {{ms 15000}} {
    set live {}
    foreach i $::cl::nodes { if {[node_alive $i]} { lappend live $i } }
    set want [expr {2 + [llength $live]}]
    set deadline [expr {[clock milliseconds] + $ms}]
    while {[clock milliseconds] < $deadline} {
        set ok 1
        foreach i $live {
            if {[catch {ncmd $i cluster slots} r] || [llength $r] != 1 ||
                [llength [lindex $r 0]] != $want} { set ok 0; break }
        }
        if {$ok} { return }
        after 50
    }
    error "CLUSTER SLOTS did not list all [llength $live] live members in $ms ms"
}

# Digests of WHICH after convergence; fails unless they are all equal.
proc assert_digests_equal {{which {}}} {
    if {$which eq ""} {
        foreach i $::cl::nodes { if {[node_alive $i]} { lappend which $i } }
    }
    set idx [wait_converged 20000 $which]
    set ds {}
    foreach i $which { lappend ds [ncmd $i debug digest] }
    # Nothing was written meanwhile: still at the same applied index.
    foreach i $which { assert_equal [raft_field $i raft_applied_index] $idx "node $i moved while digesting" }
    if {[llength [lsort -unique $ds]] != 1} {
        error "digests differ at applied index $idx: [join $ds { }]"
    }
    assert_match {[0-9a-f]*} [lindex $ds 0]
    return [lindex $ds 0]
}

# A connection on node I that may read locally (stale reads, as a replica
# after READONLY in Redis Cluster).
proc stale_client {i} {
    set c [redis_client 127.0.0.1 $::cl::node($i,port)]
    $c client consistency stale
    $c readonly
    return $c
}

# ccall CMD ...: CMD on the cluster as a cluster-aware client would send it:
# to the node it believes leads, following -MOVED, retrying -CLUSTERDOWN,
# connection errors and timeouts until a 10 s deadline. Returns the reply;
# errors other than those come back as Tcl errors.
namespace eval ::cl { variable target ""; variable exclude {} }
proc ccall {args} {
    need_cluster
    set deadline [expr {[clock milliseconds] + 10000}]
    set last ""
    while {[clock milliseconds] < $deadline} {
        if {$::cl::target eq "" || ![node_alive $::cl::target]
            || $::cl::target in $::cl::exclude} { ::cl::pick_target }
        if {$::cl::target eq ""} { after 50; continue }
        set code [catch {ncmd_timeout 3000 $::cl::target {*}$args} reply]
        if {!$code} { return $reply }
        set last $reply
        if {[string match "MOVED *" $reply]} {
            set to [node_by_addr [lindex $reply 2]]
            if {$to ne "" && $to != $::cl::target && $to ni $::cl::exclude} {
                set ::cl::target $to
                continue
            }
            after 20
        } elseif {[string match "CLUSTERDOWN*" $reply] || [string match "I/O*" $reply]
                  || [string match "TRYAGAIN*" $reply]} {
            set ::cl::target ""
            after 50
        } else {
            error $reply
        }
    }
    error "ccall $args: no answer within 10 s (last: $last)"
}

# The live node (not in ::cl::exclude, e.g. a partitioned minority) that
# says it leads, else any live one (its -MOVED then points the way).
proc ::cl::pick_target {} {
    set ::cl::target ""
    set live {}
    foreach i $::cl::nodes {
        if {[node_alive $i] && $i ni $::cl::exclude} { lappend live $i }
    }
    foreach i $live {
        if {[raft_field $i raft_role] eq "leader"} { set ::cl::target $i; return }
    }
    if {[llength $live]} { set ::cl::target [lindex $live [expr {int(rand() * [llength $live])}]] }
}

# Fails at once when the scenario's cluster did not start.
proc need_cluster {} {
    if {![llength $::cl::nodes]} { error "no cluster running (an earlier step failed)" }
}

# Background redis-benchmark (SETs) against node I for about SECS seconds;
# returns its PID. Stopped by cluster_stop at the latest.
proc bench_start {i {secs 20} {extra {}}} {
    set out [file join $::cl::node($i,dir) bench.[incr ::cl::n].out]
    set pid [exec redis-benchmark -h 127.0.0.1 -p $::cl::node($i,port) -t set \
        -c 10 -d 64 -r 100000 -n [expr {$secs * 3000}] -P 4 -q {*}$extra \
        >$out 2>@1 &]
    lappend ::cl::bg $pid
    return $pid
}

proc bench_stop {pid} {
    ::srv::kill_pid $pid
    set ::cl::bg [lsearch -all -inline -not -exact $::cl::bg $pid]
}

proc ::cl::stop_background {} {
    foreach pid $::cl::bg { ::srv::kill_pid $pid }
    set ::cl::bg {}
}

# The acknowledged-writes recorder: rec_write sends N SETs of rec:<seq>
# through ccall and remembers which were acknowledged with +OK.
namespace eval ::cl { variable acked {}; variable seq 0 }
proc rec_reset {} { set ::cl::acked {}; set ::cl::seq 0 }
proc rec_write {n} {
    for {set k 0} {$k < $n} {incr k} {
        set s [incr ::cl::seq]
        if {![catch {ccall set rec:$s v$s} r] && $r eq "OK"} { lappend ::cl::acked $s }
    }
}

# Pipelined writes on node I that are in flight while KILLCMD runs (e.g.
# killing that node): sends N SETs without reading, runs KILLCMD, then reads
# what comes back; +OK replies are acknowledged writes.
proc rec_write_inflight {i n killcmd} {
    set c [redis_client 127.0.0.1 $::cl::node($i,port)]
    $c deferred 1
    set first [expr {$::cl::seq + 1}]
    for {set k 0} {$k < $n} {incr k} {
        set s [incr ::cl::seq]
        catch {$c set rec:$s v$s}
    }
    uplevel 1 $killcmd
    set saved $::rc::timeout_ms
    set ::rc::timeout_ms 3000
    for {set s $first} {$s <= $::cl::seq} {incr s} {
        if {[catch {$c read} r]} { if {[string match "I/O*" $r]} break; continue }
        if {$r eq "OK"} { lappend ::cl::acked $s }
    }
    set ::rc::timeout_ms $saved
    catch {$c close}
}

# Every acknowledged write is readable through the leader (linearizable).
proc assert_acked_readable {} {
    set lost {}
    foreach s $::cl::acked {
        if {[ccall get rec:$s] ne "v$s"} { lappend lost $s }
    }
    if {[llength $lost]} {
        error "[llength $lost] of [llength $::cl::acked] acknowledged writes lost: [lrange $lost 0 20]"
    }
}

# Every acknowledged write is on node I (stale local read after convergence).
proc assert_acked_on_node {i} {
    set c [stale_client $i]
    set lost {}
    foreach s $::cl::acked {
        if {[$c get rec:$s] ne "v$s"} { lappend lost $s }
    }
    $c close
    if {[llength $lost]} {
        error "node $i lacks [llength $lost] of [llength $::cl::acked] acknowledged writes: [lrange $lost 0 20]"
    }
}

# Milliseconds until a leader other than OLD is agreed among the live nodes.
proc time_new_leader {old start_ms {ms 10000}} {
    set deadline [expr {$start_ms + $ms}]
    while {[clock milliseconds] < $deadline} {
        set live {}
        foreach i $::cl::nodes { if {$i != $old && [node_alive $i]} { lappend live $i } }
        foreach i $live {
            if {[raft_field $i raft_role] eq "leader"} {
                return [list $i [expr {[clock milliseconds] - $start_ms}]]
            }
        }
        after 10
    }
    error "no new leader within $ms ms ([cluster_roles])"
}
