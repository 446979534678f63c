#!/usr/bin/python3
"""redis-py's RedisCluster (Debian's python3-redis) against a 3-node
raftcache cluster: start-up (COMMAND, CLUSTER SLOTS) from any node, the
topology it learns (the leader the one primary of 0-16383, the followers
its replicas), SET/GET, MGET with a hash tag, a pipeline, and a kill -9 of
the leader: writes retried until a new leader answers, then every
acknowledged write is read back and the primary is another node.
Usage: redis_py_rediscluster.py HOST PORT LEADER_PORT LEADER_PID
Prints PASS/FAIL lines (run by tcl-tests/integration/clients.tcl)."""
import logging
import os
import signal
import sys
import time
import traceback

from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

# redis-py logs every failed connection attempt with its traceback.
logging.getLogger("redis").setLevel(logging.CRITICAL)

HOST, PORT = sys.argv[1], int(sys.argv[2])
LEADER_PORT, LEADER_PID = int(sys.argv[3]), int(sys.argv[4])


def check(name, fn):
    try:
        fn()
        print("PASS " + name, flush=True)
    except Exception as e:  # reported, not raised
        print("FAIL %s: %r" % (name, e), flush=True)
        traceback.print_exc(limit=-3)


def eq(got, want):
    if got != want:
        raise AssertionError("expected %r got %r" % (want, got))


# Two bugs of redis-py 4.3.4's cluster client show on any failover, against
# Redis Cluster as here: re-initialising, it keeps the role a known node
# had (the promoted replica stays "replica": IndexError, no primary), and
# with dynamic startup nodes it deep-copies arguments holding a bound
# method ("cannot pickle '_thread.lock'"). So it is seeded from the node we
# were given only, and an application-level retry makes a new client when
# the old one gives up, as an application on this redis-py would.
def new_client():
    return RedisCluster(host=HOST, port=PORT, socket_timeout=2,
                        socket_connect_timeout=1, dynamic_startup_nodes=False)


rc = new_client()


def t_topology():
    prim = [n.port for n in rc.get_nodes() if n.server_type == "primary"]
    reps = [n.port for n in rc.get_nodes() if n.server_type == "replica"]
    eq(prim, [LEADER_PORT])
    eq(len(reps), 2)
    eq(rc.keyslot("{user1}:a"), rc.cluster_keyslot("{user1}:a"))


def t_set_get():
    for i in range(50):
        eq(rc.set("rc:%d" % i, i), True)
    eq(rc.get("rc:7"), b"7")
    eq(rc.mset_nonatomic({"{t}a": 1, "{t}b": 2}), [True])
    eq(rc.mget("{t}a", "{t}b", "{t}c"), [b"1", b"2", None])


def t_pipeline():
    p = rc.pipeline()
    for i in range(20):
        p.set("rc:p:%d" % i, i)
    p.incr("rc:ctr")
    p.get("rc:p:3")
    res = p.execute()
    eq(res[:20], [True] * 20)
    eq(res[21], b"3")


acked = {}


def retrying(fn, deadline):
    """fn() until it answers; a client that gave up is replaced."""
    global rc
    while True:
        try:
            return fn()
        except (RedisError, RedisClusterException, IndexError) as e:
            if time.time() > deadline:
                raise AssertionError("no answer: %r" % e)
            time.sleep(0.2)
            if not isinstance(e, RedisError):
                try:
                    rc = new_client()
                except (RedisError, RedisClusterException, IndexError):
                    pass


def write_retrying(key, val, deadline):
    if retrying(lambda: rc.set(key, val), deadline):
        acked[key] = val


def t_failover():
    for i in range(20):
        write_retrying("rc:f:%d" % i, str(i), time.time() + 5)
    os.kill(LEADER_PID, signal.SIGKILL)
    t0 = time.time()
    for i in range(20, 40):
        write_retrying("rc:f:%d" % i, str(i), t0 + 20)
    print("NOTE writes resumed %.1f s after the kill" % (time.time() - t0))
    for k, v in acked.items():
        eq(retrying(lambda: rc.get(k), time.time() + 10), v.encode())
    prim = [n.port for n in rc.get_nodes() if n.server_type == "primary"]
    if len(prim) != 1 or prim[0] == LEADER_PORT:
        raise AssertionError("primary after failover: %r" % prim)


check("rediscluster_topology", t_topology)
check("rediscluster_set_get", t_set_get)
check("rediscluster_pipeline", t_pipeline)
check("rediscluster_leader_kill", t_failover)
