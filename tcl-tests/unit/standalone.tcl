# A standalone node, `cluster-enabled no`: a pure in-memory cache like
# `redis-server --save "" --appendonly no`: no Raft group, no WAL, nothing
# written to dir; lazy and active expiry run locally; CLUSTER/READONLY get
# Redis' "cluster support disabled", RAFT.* a clear error, SAVE/BGSAVE
# "raftcache keeps no RDB file"; MULTI/EXEC and WATCH keep Redis'
# semantics. Then Redis' MULTI/WATCH cases of multi.tcl run once more
# against a standalone server.

set ::standalone_dir [file join $::srv::tmpdir standalone-data.[pid]]
file delete -force $::standalone_dir
file mkdir $::standalone_dir

start_server [list tags {standalone external:skip} \
                  overrides [list cluster-enabled no dir $::standalone_dir]] {
    test {Standalone: SET, GET, INCR and DEL run at once} {
        assert_equal [r set k v] OK
        assert_equal [r get k] v
        assert_equal [r incr n] 1
        assert_equal [r del k n] 2
        assert_equal [r get k] {}
    }

    test {Standalone: a key set with PX 50 is gone after it expires} {
        r set shortlived v px 50
        after 120
        assert_equal [r get shortlived] {}
        assert_equal [r exists shortlived] 0
    }

    test {Standalone: active expiry removes keys nobody reads} {
        r flushall
        for {set i 0} {$i < 200} {incr i} { r set ex:$i v px 100 }
        r set keeper v
        assert_equal [r dbsize] 201
        wait_for_condition 50 100 {[r dbsize] == 1} {
            fail "active expiry left [r dbsize] keys"
        }
        assert_equal [r get keeper] v
    }

    test {Standalone: nothing is written to dir} {
        for {set i 0} {$i < 100} {incr i} { r set f:$i [string repeat x 100] }
        r config get dir
        assert_equal [glob -nocomplain -directory $::standalone_dir *] {}
    }

    test {Standalone: SAVE and BGSAVE are refused, LASTSAVE is the start time} {
        assert_error "ERR raftcache keeps no RDB file: SAVE is not supported" {r save}
        assert_error "ERR raftcache keeps no RDB file: BGSAVE is not supported" {r bgsave}
        assert_error "ERR raftcache keeps no RDB file: BGSAVE is not supported" {r bgsave schedule}
        assert_error "ERR syntax error" {r bgsave now}
        set t [r lastsave]
        assert_range $t [expr {[clock seconds] - 60}] [clock seconds]
        set info [r info persistence]
        assert_equal [info_field $info rdb_last_save_time] $t
        assert_equal [info_field $info rdb_bgsave_in_progress] 0
        assert_equal [info_field $info rdb_last_bgsave_status] ok
        r multi
        assert_error "ERR Command not allowed inside a transaction" {r save}
        assert_error "EXECABORT*" {r exec}
        assert_equal [glob -nocomplain -directory $::standalone_dir *] {}
    } {raftcache-only}

    test {Standalone: INFO says cluster_enabled:0} {
        assert_match "*cluster_enabled:0*" [r info cluster]
        assert_match "*cluster_enabled:0*" [r info]
        assert_match "*redis_mode:standalone*" [r info server]
        assert_equal [dict get [r hello] mode] standalone
    }

    test {Standalone: INFO has no raft section} {
        assert_no_match "*raft_*" [r info raft]
        assert_no_match "*# Raft*" [r info everything]
    } {raftcache-only}

    test {Standalone: CLUSTER, ASKING, READONLY, READWRITE report cluster support disabled} {
        assert_error "ERR This instance has cluster support disabled" {r cluster info}
        assert_error "ERR This instance has cluster support disabled" {r cluster slots}
        assert_error "ERR This instance has cluster support disabled" {r readonly}
        assert_error "ERR This instance has cluster support disabled" {r readwrite}
    }

    test {Standalone: RAFT commands are refused with a clear error} {
        assert_error "*needs a Raft group*cluster-enabled no*" {r raft.info}
        assert_error "*needs a Raft group*cluster-enabled no*" {r raft.cluster info}
    } {raftcache-only}

    test {Standalone: CONFIG GET cluster-enabled, and it is set at start only} {
        assert_equal [r config get cluster-enabled] {cluster-enabled no}
        assert_error "*can't set immutable config*" {r config set cluster-enabled yes}
    }

    test {Standalone: MULTI/EXEC runs the queue as one} {
        r del a
        r multi
        r set a 1
        r incr a
        r get a
        assert_equal [r exec] {OK 2 2}
    }

    test {Standalone: EXECABORT after a queueing error, DISCARD} {
        r multi
        catch {r nosuchcommand} e
        assert_match "ERR unknown command*" $e
        assert_error "EXECABORT*" {r exec}
        r multi
        r set a 9
        assert_equal [r discard] OK
        assert_equal [r get a] 2
    }

    test {Standalone: WATCH aborts EXEC when another client touched the key} {
        set c [new_client]
        r set w 1
        r watch w
        $c set w 2
        r multi
        r set w 3
        assert_equal [r rawcmd exec] "*-1\r\n"
        assert_equal [r get w] 2
        $c close
    }

    test {Standalone: WATCH lets EXEC run when nobody touched the key} {
        r set w 1
        r watch w
        r multi
        r incr w
        assert_equal [r exec] 2
    }

    test {Standalone: a watched key expiring aborts EXEC} {
        r set w 1 px 50
        r watch w
        after 120
        r multi
        r ping
        assert_equal [r rawcmd exec] "*-1\r\n"
    }
}

file delete -force $::standalone_dir

# Redis' MULTI/WATCH cases (multi.tcl) once more, on a standalone server.
rename start_server ::standalone_start_server
proc start_server {opts body} {
    dict lappend opts overrides cluster-enabled no
    uplevel 1 [list ::standalone_start_server $opts $body]
}
if {[catch {source [file join $::root unit multi.tcl]} err]} {
    rename start_server {}
    rename ::standalone_start_server start_server
    error $err
}
rename start_server {}
rename ::standalone_start_server start_server
