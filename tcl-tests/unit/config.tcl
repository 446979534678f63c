# Start-up configuration: options named as Redis names them, given in a
# config file or as --option value; pidfile, logfile and unixsocket take
# effect; an unknown option or a bad value stops start-up with exit code 1
# and a message naming the option and the line.

# Run the binary on ARGS; it must exit by itself within 5 s.
# Returns {exit-code output}.
proc run_server_expect_exit {args} {
    set rc 0
    if {[catch {exec timeout 5 $::srv::bin {*}$args 2>@1} out opts]} {
        set ec [dict get $opts -errorcode]
        set rc [expr {[lindex $ec 0] eq "CHILDSTATUS" ? [lindex $ec 2] : -1}]
        # The message is everything but Tcl's own "child process exited" line.
        regsub {\n?child process exited abnormally$} $out {} out
    }
    return [list $rc $out]
}

proc write_conf {name lines} {
    set path [file join $::srv::tmpdir $name]
    set f [open $path w]
    puts $f [join $lines \n]
    close $f
    return $path
}

if {!$::srv::external} {
    set pidf [file join $::srv::tmpdir cfg-[pid].pid]
    set logf [file join $::srv::tmpdir cfg-[pid].log]
    set sockf [file join $::srv::tmpdir cfg-[pid].sock]
    file delete $pidf $logf $sockf

    start_server [list tags {config} overrides [list pidfile $pidf logfile $logf unixsocket $sockf \
            tcp-keepalive 60 tcp-backlog 128 hz 20 loglevel notice timeout 0]] {
        test {Options from the config file are in effect} {
            assert_equal [r config get hz] {hz 20}
            assert_equal [r config get tcp-keepalive] {tcp-keepalive 60}
            assert_equal [r config get loglevel] {loglevel notice}
        }

        test {pidfile holds the server's PID} {
            set f [open $pidf]
            set content [string trim [read $f]]
            close $f
            assert_equal $content [srv pid]
        }

        test {logfile is written} {
            assert {[file exists $logf] && [file size $logf] > 0}
        }

        test {unixsocket accepts clients} {
            assert_equal [exec redis-cli -s $sockf ping] PONG
            r set viaunix 1
            assert_equal [exec redis-cli -s $sockf get viaunix] 1
        }
    }

    test {Config file syntax: case, tabs, quotes, comments, CRLF, units, repeats} {
        set port [::srv::free_port]
        set conf [write_conf syntax-[pid].conf [list \
            "# a comment line" \
            "" \
            "PORT $port\r" \
            "bind\t127.0.0.1" \
            "   timeout 5" \
            "timeout 7" \
            "requirepass \"p w\"" \
            "proto-max-bulk-len 2mb" \
            "client-query-buffer-limit 1GB" \
            "databases 1" \
            "dir \"$::srv::tmpdir\""]]
        set pid [exec $::srv::bin $conf >/dev/null 2>@1 &]
        set c ""
        for {set i 0} {$i < 50 && $c eq ""} {incr i} {
            after 100
            if {[::srv::ping_ok 127.0.0.1 $port]} { set c [redis_client 127.0.0.1 $port] }
        }
        set ok [catch {
            assert {$c ne ""} "server did not start"
            assert_equal [$c auth "p w"] OK
            assert_equal [$c config get timeout] {timeout 7}
            assert_equal [$c config get proto-max-bulk-len] {proto-max-bulk-len 2097152}
            assert_equal [$c config get client-query-buffer-limit] {client-query-buffer-limit 1073741824}
        } err]
        if {$c ne ""} { $c close }
        ::srv::kill_pid $pid
        if {$ok} { error $err }
    } {config}

    test {Without a dir option CONFIG GET dir is the absolute working directory} {
        set port [::srv::free_port]
        set conf [write_conf nodir-[pid].conf [list "port $port" "bind 127.0.0.1" "databases 1"]]
        # Started from a directory of its own: without a dir option the
        # server keeps its data (the Raft log) in the working directory.
        set wd [file normalize [file join [file dirname $conf] nodir-[pid]]]
        file mkdir $wd
        set here [pwd]
        cd $wd
        set pid [exec $::srv::bin [file normalize $conf] >/dev/null 2>@1 &]
        cd $here
        set c ""
        for {set i 0} {$i < 50 && $c eq ""} {incr i} {
            after 100
            if {[::srv::ping_ok 127.0.0.1 $port]} { set c [redis_client 127.0.0.1 $port] }
        }
        set reply ""
        if {$c ne ""} { catch {$c config get dir} reply; $c close }
        ::srv::kill_pid $pid
        file delete -force $wd
        assert_equal $reply [list dir $wd]
    } {config}

    test {A clean shutdown removes the pidfile} {
        set port [::srv::free_port]
        set pf [file join $::srv::tmpdir rm-[pid].pid]
        file delete $pf
        set conf [write_conf rmpid-[pid].conf [list "port $port" "bind 127.0.0.1" \
            "dir $::srv::tmpdir" "pidfile $pf" "databases 1"]]
        set pid [exec $::srv::bin $conf >/dev/null 2>@1 &]
        set up 0
        for {set i 0} {$i < 50 && !$up} {incr i} { after 100; set up [::srv::ping_ok 127.0.0.1 $port] }
        set existed [file exists $pf]
        ::srv::kill_pid $pid
        assert_equal $up 1
        assert_equal $existed 1
        assert_equal [file exists $pf] 0
    } {config}

    test {An unknown option in the config file stops start-up naming it and its line} {
        set conf [write_conf bad-opt-[pid].conf {"port 0" "nosuchoption yes"}]
        lassign [run_server_expect_exit $conf] rc out
        assert_equal $rc 1 "exit code; output: $out"
        assert {[string match -nocase "*nosuchoption*" $out]} "output: $out"
        assert {[string match -nocase "*line 2*" $out]} "output: $out"
    } {config}

    test {A bad value in the config file stops start-up naming the option and its line} {
        set conf [write_conf bad-val-[pid].conf {"port 0" "bind 127.0.0.1" "maxclients abc"}]
        lassign [run_server_expect_exit $conf] rc out
        assert_equal $rc 1 "exit code; output: $out"
        assert {[string match -nocase "*maxclients*" $out]} "output: $out"
        assert {[string match -nocase "*line 3*" $out]} "output: $out"
    } {config}

    test {An unknown --option on the command line stops start-up naming it} {
        lassign [run_server_expect_exit --port 0 --nosuchoption 1] rc out
        assert_equal $rc 1 "exit code; output: $out"
        assert {[string match -nocase "*nosuchoption*" $out]} "output: $out"
    } {config}

    test {Options given as --option value override the file} {
        set port [::srv::free_port]
        set conf [write_conf cli-[pid].conf [list "port 1" "bind 127.0.0.1" "dir $::srv::tmpdir"]]
        set pid [exec $::srv::bin $conf --port $port --databases 1 >/dev/null 2>@1 &]
        set ok 0
        for {set i 0} {$i < 50 && !$ok} {incr i} {
            after 100
            set ok [::srv::ping_ok 127.0.0.1 $port]
        }
        ::srv::kill_pid $pid
        assert_equal $ok 1
    } {config}
}

# CONFIG REWRITE (Redis config.c rewriteConfig): the file the server was
# started with takes the running values; comments stay, an option's first
# line is rewritten in place and its repeats go, options that are not in
# the file are appended only when they differ from their default, and the
# rewritten file starts a server with the same values.
start_server {tags {external:skip config} overrides {timeout 5 timeout 6 maxmemory 1mb}} {
    test {CONFIG REWRITE keeps comments, rewrites in place and appends changed options} {
        set conf [file join [srv dir] server.conf]
        set f [open $conf a]
        puts $f "# a comment kept by the rewrite"
        close $f
        r config set timeout 9
        r config set hz 25
        r config set maxmemory 3mb
        assert_equal [r config rewrite] OK
        set f [open $conf]
        set text [read $f]
        close $f
        assert_match "*\n# a comment kept by the rewrite\n*" $text
        assert_equal [regexp -all -line {^timeout } $text] 1
        assert_match "*\ntimeout 9\n*" $text
        assert_match "*\nmaxmemory 3mb\n*" $text
        assert_match "*# Generated by CONFIG REWRITE\n*hz 25\n*" $text
        # A repeated option's later lines are blanked, as Redis does.
        assert_match "*\ntimeout 9\n\n*" $text
        # Options left at their default are not added.
        assert_equal [regexp -all -line {^maxclients } $text] 0
        # The timeout line stays where the first one was: before the comment.
        assert {[string first "timeout 9" $text] < [string first "# a comment" $text]}
    }

    test {A rewritten config file starts a server with the same values} {
        set conf [file join [srv dir] server.conf]
        set port [::srv::free_port]
        set d2 [file join [srv dir] second]
        file mkdir $d2
        set pid [exec $::srv::bin $conf --port $port --dir $d2 >/dev/null 2>@1 &]
        set c ""
        for {set i 0} {$i < 50 && $c eq ""} {incr i} {
            after 100
            if {[::srv::ping_ok 127.0.0.1 $port]} { set c [redis_client 127.0.0.1 $port] }
        }
        set got {}
        if {$c ne ""} {
            lappend got [$c config get timeout] [$c config get hz] [$c config get maxmemory]
            $c close
        }
        ::srv::kill_pid $pid
        assert_equal $got {{timeout 9} {hz 25} {maxmemory 3145728}}
    }
}

if {!$::srv::external} {
    test {CONFIG REWRITE without a config file answers as Redis} {
        set port [::srv::free_port]
        set pid [exec $::srv::bin --port $port --bind 127.0.0.1 --dir $::srv::tmpdir >/dev/null 2>@1 &]
        set c ""
        for {set i 0} {$i < 50 && $c eq ""} {incr i} {
            after 100
            if {[::srv::ping_ok 127.0.0.1 $port]} { set c [redis_client 127.0.0.1 $port] }
        }
        set reply ""
        if {$c ne ""} { catch {$c config rewrite} reply; $c close }
        ::srv::kill_pid $pid
        assert_equal $reply "ERR The server is running without a config file"
    } {config}
}
