#!/usr/bin/python3
"""redis-py (Debian's python3-redis) against a raftcache cluster, starting
at any node. redis-py's plain client surfaces -MOVED as a ResponseError, so
a small wrapper follows it by reconnecting to the named address (and
retries -CLUSTERDOWN). redis-py's own RedisCluster is checked by
tests/clients/redis_py_rediscluster.py. Usage: redis_py_cluster.py HOST PORT"""
import sys
import time

import redis


class MovedFollowingRedis:
    """Sends each command to the node it last learnt leads."""

    def __init__(self, host, port):
        self.redirects = 0
        self._connect(host, port)

    def _connect(self, host, port):
        self.client = redis.Redis(host=host, port=port, socket_timeout=5)

    def execute(self, *args):
        for _ in range(50):
            try:
                return self.client.execute_command(*args)
            except redis.exceptions.ResponseError as e:
                msg = str(e)
                if msg.startswith("MOVED "):
                    host, port = msg.split()[2].rsplit(":", 1)
                    self.client.close()
                    self._connect(host, int(port))
                    self.redirects += 1
                    continue
                if msg.startswith("CLUSTERDOWN"):
                    time.sleep(0.1)
                    continue
                raise
        raise RuntimeError("no answer after 50 tries")


def check(name, fn):
    try:
        fn()
        print("PASS " + name)
    except Exception as e:  # reported, not raised
        print("FAIL %s: %r" % (name, e))


def eq(got, want):
    if got != want:
        raise AssertionError("expected %r got %r" % (want, got))


HOST, PORT = sys.argv[1], int(sys.argv[2])
w = MovedFollowingRedis(HOST, PORT)


def t_set_get():
    eq(w.execute("SET", "py:k", "v1"), True)
    eq(w.execute("GET", "py:k"), b"v1")
    eq(w.execute("INCRBY", "py:ctr", 3), 3)


def t_pipeline_on_leader():
    p = w.client.pipeline(transaction=False)
    for i in range(100):
        p.set("py:pipe:%d" % i, i)
    eq(p.execute(), [True] * 100)


def t_transaction_on_leader():
    p = w.client.pipeline(transaction=True)
    p.set("py:tx", 1).incr("py:tx")
    eq(p.execute(), [True, 2])


check("redis_py_moved_wrapper", t_set_get)
check("redis_py_pipeline", t_pipeline_on_leader)
check("redis_py_transaction", t_transaction_on_leader)
print("NOTE redis-py %s, redirects followed: %d" % (redis.__version__, w.redirects))
