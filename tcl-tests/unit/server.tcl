# Server commands: INFO, CONFIG, COMMAND, TIME, unknown commands, SHUTDOWN
# and SIGTERM.

start_server {tags {server}} {
    test {Unknown command error text} {
        assert_equal [r rawcmd nosuchcmd] "-ERR unknown command 'nosuchcmd', with args beginning with: \r\n"
        assert_equal [r rawcmd nosuchcmd a "b c"] "-ERR unknown command 'nosuchcmd', with args beginning with: 'a' 'b c' \r\n"
    }

    test {Unknown command names are cut at 128 bytes} {
        set name [string repeat x 200]
        assert_equal [r rawcmd $name] "-ERR unknown command '[string repeat x 128]', with args beginning with: \r\n"
    }

    test {An empty multibulk command is ignored} {
        set fd [raw_connect]
        raw_send $fd "*0\r\nPING\r\n"
        lassign [raw_read_until_quiet $fd 200 2000] buf closed
        raw_close $fd
        assert_equal $buf "+PONG\r\n"
    }

    test {INFO has the sections Redis tools read} {
        set info [r info]
        foreach section {Server Clients Memory Stats CPU Keyspace} {
            assert_match "*# $section\r\n*" $info
        }
        foreach field {
            redis_version redis_mode process_id tcp_port uptime_in_seconds uptime_in_days hz
            connected_clients blocked_clients maxclients
            used_memory used_memory_human used_memory_rss used_memory_peak maxmemory
            total_connections_received total_commands_processed instantaneous_ops_per_sec
            rejected_connections expired_keys evicted_keys keyspace_hits keyspace_misses
            used_cpu_sys used_cpu_user
        } {
            assert_match "*\r\n$field:*" $info
        }
        assert_equal [info_field $info tcp_port] [srv port]
        assert_equal [info_field $info redis_mode] [expr {[::srv::is_redis] ? "standalone" : "cluster"}]
    }

    test {INFO server, clients and cpu fields are Redis 7.0's, in order} {
        foreach {section fields} {
            server {
            redis_version redis_git_sha1 redis_git_dirty redis_build_id redis_mode os arch_bits
            monotonic_clock multiplexing_api atomicvar_api gcc_version process_id
            process_supervised run_id tcp_port server_time_usec uptime_in_seconds
            uptime_in_days hz configured_hz lru_clock executable config_file io_threads_active
            }
            clients {
            connected_clients cluster_connections maxclients client_recent_max_input_buffer
            client_recent_max_output_buffer blocked_clients tracking_clients
            clients_in_timeout_table
            }
            cpu {
            used_cpu_sys used_cpu_user used_cpu_sys_children used_cpu_user_children
            used_cpu_sys_main_thread used_cpu_user_main_thread
            }
        } {
            assert_equal [info_keys [r info $section]] [list {*}$fields] "section $section"
        }
    }

    test {INFO memory and stats have every field Redis 7.0 has} {
        foreach {section fields} {
            memory {
            used_memory used_memory_human used_memory_rss used_memory_rss_human
            used_memory_peak used_memory_peak_human used_memory_peak_perc used_memory_overhead
            used_memory_startup used_memory_dataset used_memory_dataset_perc
            allocator_allocated allocator_active allocator_resident total_system_memory
            total_system_memory_human used_memory_lua used_memory_vm_eval used_memory_lua_human
            used_memory_scripts_eval number_of_cached_scripts number_of_functions
            number_of_libraries used_memory_vm_functions used_memory_vm_total
            used_memory_vm_total_human used_memory_functions used_memory_scripts
            used_memory_scripts_human maxmemory maxmemory_human maxmemory_policy
            allocator_frag_ratio allocator_frag_bytes allocator_rss_ratio allocator_rss_bytes
            rss_overhead_ratio rss_overhead_bytes mem_fragmentation_ratio
            mem_fragmentation_bytes mem_not_counted_for_evict mem_replication_backlog
            mem_total_replication_buffers mem_clients_slaves mem_clients_normal
            mem_cluster_links mem_aof_buffer mem_allocator active_defrag_running
            lazyfree_pending_objects lazyfreed_objects
            }
            stats {
            total_connections_received total_commands_processed instantaneous_ops_per_sec
            total_net_input_bytes total_net_output_bytes total_net_repl_input_bytes
            total_net_repl_output_bytes instantaneous_input_kbps instantaneous_output_kbps
            instantaneous_input_repl_kbps instantaneous_output_repl_kbps rejected_connections
            sync_full sync_partial_ok sync_partial_err expired_keys expired_stale_perc
            expired_time_cap_reached_count expire_cycle_cpu_milliseconds evicted_keys
            evicted_clients total_eviction_exceeded_time current_eviction_exceeded_time
            keyspace_hits keyspace_misses pubsub_channels pubsub_patterns pubsubshard_channels
            latest_fork_usec total_forks migrate_cached_sockets slave_expires_tracked_keys
            active_defrag_hits active_defrag_misses active_defrag_key_hits
            active_defrag_key_misses total_active_defrag_time current_active_defrag_time
            tracking_total_keys tracking_total_items tracking_total_prefixes
            unexpected_error_replies total_error_replies dump_payload_sanitizations
            total_reads_processed total_writes_processed io_threaded_reads_processed
            io_threaded_writes_processed reply_buffer_shrinks reply_buffer_expands
            }
        } {
            set have [info_keys [r info $section]]
            set missing [lmap f $fields { if {$f in $have} continue; set f }]
            assert_equal $missing {} "missing from $section"
        }
    }

    test {INFO everything lists the sections in Redis' order} {
        set heads [lmap l [split [r info everything] "\n"] {
            if {![string match "# *" $l]} continue
            string trim [string range $l 2 end]
        }]
        assert_equal $heads {Server Clients Memory Persistence Stats Replication CPU Modules Commandstats Errorstats Latencystats Cluster Keyspace}
    }

    test {INFO of one section} {
        set info [r info clients]
        assert_match "# Clients\r\nconnected_clients:*" $info
        assert_no_match "*# Server*" $info
        assert_equal [r info nosuchsection] ""
    }

    test {INFO sections are case-insensitive and can be combined} {
        set info [r info SERVER memory]
        assert_match "*# Server\r\n*# Memory\r\n*" $info
        assert_no_match "*# Clients*" $info
    }

    test {INFO keyspace} {
        r flushall
        assert_equal [r info keyspace] "# Keyspace\r\n"
        r mset a 1 b 2
        r expire a 100
        assert_match "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=*\r\n" [r info keyspace]
    }

    test {INFO stats counts hits and misses} {
        r config resetstat
        r set a 1
        r get a
        r get a
        r get nokey
        set info [r info stats]
        assert_equal [info_field $info keyspace_hits] 2
        assert_equal [info_field $info keyspace_misses] 1
    }

    test {Which commands count keyspace hits and misses, as Redis 7.0} {
        r flushall
        r set a 1
        r config resetstat
        # command, then the hits and misses it adds (recorded from redis-server)
        set steps {
            {get a} 1 0  {get nokey} 0 1  {mget a nokey a} 2 1  {exists a nokey} 1 1
            {type a} 1 0  {type nokey} 0 1  {ttl a} 1 0  {ttl nokey} 0 1
            {strlen a} 1 0  {strlen nokey} 0 1  {getrange a 0 1} 1 0  {getex a} 1 0
            {getex nokey} 0 1  {getdel nokey} 0 1  {append a x} 0 0  {incr nokey2} 0 0
            {set a 1 get} 1 0  {getset a 2} 1 0  {object encoding a} 1 0
            {object encoding nokey} 0 1  {touch a nokey} 1 1  {expire a 100} 0 0
            {persist a} 0 0  {rename a b} 0 0  {randomkey} 0 0  {dbsize} 0 0
            {keys *} 0 0  {scan 0} 0 0  {setrange b 0 x} 0 0  {expiretime b} 1 0
            {pttl b} 1 0
        }
        set hits 0
        set misses 0
        set wrong {}
        foreach {cmd dh dm} $steps {
            catch {r {*}$cmd}
            set info [r info stats]
            set h [info_field $info keyspace_hits]
            set m [info_field $info keyspace_misses]
            if {$h - $hits != $dh || $m - $misses != $dm} {
                lappend wrong "{$cmd}: +[expr {$h - $hits}]/+[expr {$m - $misses}], Redis +$dh/+$dm"
            }
            set hits $h
            set misses $m
        }
        assert_equal $wrong {} "hits/misses"
    }

    test {INFO commandstats} {
        r config resetstat
        r set a 1
        r set a 2
        r get a
        set info [r info commandstats]
        assert_match "*cmdstat_set:calls=2,usec=*,usec_per_call=*,rejected_calls=0,failed_calls=0\r\n*" $info
        assert_match "*cmdstat_get:calls=1,*" $info
    }

    test {INFO commandstats counts failed and rejected calls} {
        r config resetstat
        catch {r set a}
        catch {r incr nonint_key_x}
        r set s abc
        catch {r incr s}
        set info [r info commandstats]
        assert_match "*cmdstat_set:calls=1,*rejected_calls=1,failed_calls=0*" $info
        assert_match "*cmdstat_incr:calls=2,*rejected_calls=0,failed_calls=1*" $info
    }

    test {INFO commandstats names subcommands as command|subcommand} {
        r config resetstat
        r client id
        r config get port
        set info [r info commandstats]
        assert_match "*cmdstat_client|id:calls=1,*" $info
        assert_match "*cmdstat_config|get:calls=1,*" $info
    }

    test {INFO errorstats counts errors by prefix} {
        r config resetstat
        catch {r nosuchcommand}
        catch {r get}
        catch {r hello 9}
        set info [r info errorstats]
        assert_match "# Errorstats\r\n*" $info
        assert_match "*errorstat_ERR:count=2\r\n*" $info
        assert_match "*errorstat_NOPROTO:count=1*" $info
    }

    test {CLIENT LIST fields are Redis 7.2's, in order} {
        set line [string trim [r client info]]
        set keys [lmap kv [split $line " "] { lindex [split $kv =] 0 }]
        set want {id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp}
        # Redis 7.2 added lib-name and lib-ver (CLIENT SETINFO) at the end;
        # the installed redis-server 7.0 has neither.
        if {![server_is_redis]} { lappend want lib-name lib-ver }
        assert_equal $keys $want
    }

    test {Which errors count as rejected or failed calls, as Redis 7.0} {
        r config resetstat
        foreach cmd {
            {set a} {set a b nx xx} {set a b ex -1} {set a b} {incr a} {incrbyfloat a x}
            {getrange a x 1} {object foo} {object encoding} {client foo} {config set nosuch 1}
            {config get} {select 1} {expire a 10 nx xx} {scan x} {rename nokey x} {echo}
            {hello 9} {ping}
        } { catch {r {*}$cmd} }
        set got {}
        foreach line [split [r info commandstats] "\r\n"] {
            if {![string match cmdstat_* $line]} continue
            lappend got [regsub {usec=[0-9]+,usec_per_call=[0-9.]+,} $line ""]
        }
        # config|resetstat itself is counted once; unknown subcommands are not counted.
        set want {
            cmdstat_config|get:calls=0,rejected_calls=1,failed_calls=0
            cmdstat_config|resetstat:calls=1,rejected_calls=0,failed_calls=0
            cmdstat_config|set:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_echo:calls=0,rejected_calls=1,failed_calls=0
            cmdstat_expire:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_getrange:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_hello:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_incr:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_incrbyfloat:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_object|encoding:calls=0,rejected_calls=1,failed_calls=0
            cmdstat_ping:calls=1,rejected_calls=0,failed_calls=0
            cmdstat_rename:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_scan:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_select:calls=1,rejected_calls=0,failed_calls=1
            cmdstat_set:calls=3,rejected_calls=1,failed_calls=2
        }
        set want [list {*}$want]
        set extra [lmap l $got { if {$l in $want} continue; set l }]
        set missing [lmap l $want { if {$l in $got} continue; set l }]
        assert_equal [list $extra $missing] {{} {}} "{lines Redis has not} {lines Redis has}"
        assert_match "*errorstat_ERR:count=16\r\n*" [r info errorstats]
    }

    test {INFO connected_clients follows connections} {
        set before [info_field [r info clients] connected_clients]
        set c [new_client]
        $c ping
        assert_equal [info_field [r info clients] connected_clients] [expr {$before + 1}]
        $c close
        wait_for_condition 50 20 {[info_field [r info clients] connected_clients] == $before}
    }

    test {CONFIG GET of single options and patterns} {
        assert_equal [r config get port] [list port [srv port]]
        assert_equal [r config get databases] {databases 1}
        assert_equal [r config get proto-max-bulk-len] {proto-max-bulk-len 536870912}
        assert_equal [r config get client-query-buffer-limit] {client-query-buffer-limit 1073741824}
        if {!$::srv::external} {
            # Defaults, which an external server may have changed.
            assert_equal [r config get maxclients] {maxclients 10000}
            assert_equal [r config get timeout] {timeout 0}
        }
        assert_equal [r config get bind] {bind 127.0.0.1}
        assert_equal [r config get nosuchoption] {}
        assert_equal [r rawcmd config get nosuchoption] "*0\r\n"
        set d [r config get *max*bulk*]
        assert_equal [dict get $d proto-max-bulk-len] 536870912
    }

    test {CONFIG GET with several patterns} {
        set d [r config get port timeout]
        assert_equal [lsort [dict keys $d]] {port timeout}
    }

    test {CONFIG SET and GET round trip} {
        assert_equal [r config set timeout 300] OK
        assert_equal [r config get timeout] {timeout 300}
        r config set timeout 0
        assert_equal [r config set maxclients 5000] OK
        assert_equal [r config get maxclients] {maxclients 5000}
        r config set maxclients 10000
        r config set hz 20
        assert_equal [r config get hz] {hz 20}
        r config set hz 10
    }

    test {CONFIG SET with memory units} {
        r config set proto-max-bulk-len 1mb
        assert_equal [r config get proto-max-bulk-len] {proto-max-bulk-len 1048576}
        r config set proto-max-bulk-len 512mb
        assert_equal [r config get proto-max-bulk-len] {proto-max-bulk-len 536870912}
    }

    test {CONFIG GET dir is the absolute working directory; CONFIG SET dir is refused} {
        set dir [file normalize [srv dir]]
        assert_equal [r config get dir] [list dir $dir]
        # dir is a protected config in Redis 7 (enable-protected-configs no).
        assert_error {ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config} {r config set dir .}
        assert_equal [r config get dir] [list dir $dir]
    }

    test {CONFIG SET errors} {
        assert_error {ERR Unknown option or number of arguments for CONFIG SET - 'nosuchoption'} {r config set nosuchoption 1}
        assert_error {ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer} {r config set timeout abc}
        assert_error {ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive} {r config set port 70000}
        assert_error {ERR wrong number of arguments for 'config|set' command} {r config set timeout}
        assert_error {ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer} {r config set hz x}
    }

    test {CONFIG SET of several options at once} {
        assert_equal [r config set timeout 10 hz 15] OK
        assert_equal [r config get timeout] {timeout 10}
        assert_equal [r config get hz] {hz 15}
        r config set timeout 0 hz 10
    }

    test {CONFIG SET databases is refused at runtime} {
        assert_error {ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config} {r config set databases 16}
    }

    test {CONFIG RESETSTAT clears the counters} {
        r get a
        assert_equal [r config resetstat] OK
        set info [r info stats]
        assert_equal [info_field $info keyspace_hits] 0
        assert_equal [info_field $info keyspace_misses] 0
    }

    test {CONFIG with an unknown subcommand} {
        assert_error {ERR unknown subcommand 'foo'. Try CONFIG HELP.} {r config foo}
        assert_error {ERR wrong number of arguments for 'config' command} {r config}
    }

    test {TIME} {
        lassign [r time] s us
        assert_range $s [expr {[clock seconds] - 2}] [expr {[clock seconds] + 2}]
        assert_range $us 0 999999
        assert_match "*2\r\n\$*\r\n*\r\n\$*\r\n*\r\n" [r rawcmd time]
    }

    test {COMMAND COUNT} {
        assert {[r command count] > 40}
    }

    test {COMMAND INFO of string and key commands} {
        set get [lindex [r command info get] 0]
        assert_equal [lrange $get 0 1] {get 2}
        assert_match "*readonly*" [lindex $get 2]
        assert_equal [lrange $get 3 5] {1 1 1}
        set set [lindex [r command info set] 0]
        assert_equal [lrange $set 0 1] {set -3}
        assert_match "*write*" [lindex $set 2]
        set mset [lindex [r command info mset] 0]
        assert_equal [lrange $mset 0 5] {mset -3 {write denyoom} 1 -1 2}
        assert_equal [lrange [lindex [r command info ping] 0] 0 1] {ping -1}
    }

    test {COMMAND INFO of an unknown command is a null} {
        assert_equal [r rawcmd command info nosuchcmd] "*1\r\n\$-1\r\n"
    }

    test {COMMAND DOCS has what redis-cli needs for hints} {
        set docs [r command docs set]
        assert_equal [lindex $docs 0] set
        set d [lindex $docs 1]
        foreach f {summary since group complexity arguments} {
            assert {[dict exists $d $f]} "missing $f"
        }
        assert_equal [dict get $d group] string
        set args [dict get $d arguments]
        assert_equal [dict get [lindex $args 0] name] key
        assert_equal [dict get [lindex $args 0] type] key
    }

    test {COMMAND without arguments lists every command} {
        set all [r command]
        assert_equal [llength $all] [r command count]
        set names {}
        foreach c $all { lappend names [lindex $c 0] }
        foreach n {get set del expire scan hello client config info} {
            assert {$n in $names} "$n missing"
        }
    }

    test {COMMAND INFO without arguments lists every command, as COMMAND does} {
        assert_equal [llength [r command info]] [r command count]
    }

    test {Every issue command is known to COMMAND INFO} {
        foreach n {
            get set setnx setex psetex getset getdel getex mget mset msetnx incr decr
            incrby decrby incrbyfloat append strlen getrange setrange del unlink exists
            type keys scan randomkey rename renamenx expire pexpire expireat pexpireat
            ttl pttl expiretime pexpiretime persist touch object dbsize flushdb flushall
            select ping echo quit reset hello auth client command config info time shutdown
        } {
            assert_equal [lindex [lindex [r command info $n] 0] 0] $n
        }
    }
}

start_server {tags {server external:skip}} {
    test {SHUTDOWN stops the server} {
        assert_equal [r ping] PONG
        set pid [srv pid]
        catch {r shutdown}
        wait_for_condition 50 100 {![::srv::alive $pid]} "server still running after SHUTDOWN"
        server_stopped_on_purpose
    }
}

start_server {tags {server external:skip}} {
    test {SHUTDOWN NOSAVE stops the server} {
        assert_equal [r ping] PONG
        set pid [srv pid]
        catch {r shutdown nosave}
        wait_for_condition 50 100 {![::srv::alive $pid]} "server still running after SHUTDOWN NOSAVE"
        server_stopped_on_purpose
    }
}

start_server {tags {server external:skip}} {
    test {SIGTERM stops the server} {
        assert_equal [r ping] PONG
        set pid [srv pid]
        exec kill -TERM $pid
        wait_for_condition 50 100 {![::srv::alive $pid]} "server still running after SIGTERM"
        server_stopped_on_purpose
    }
}

start_server {tags {server external:skip}} {
    test {SIGINT stops the server} {
        assert_equal [r ping] PONG
        set pid [srv pid]
        exec kill -INT $pid
        wait_for_condition 50 100 {![::srv::alive $pid]} "server still running after SIGINT"
        server_stopped_on_purpose
    }
}
