#!/usr/bin/python3
"""redis-py against the server on 127.0.0.1:<port>: the connect handshake
(with a client name), strings,
expiry, a non-transactional pipeline, SCAN iteration, INFO parsing, and
RESP3 when the installed redis-py supports protocol=3. Prints one
PASS/FAIL/SKIP line per check."""
import inspect
import sys
import time

try:
    import redis
except ImportError:
    print("SKIP redis_py: python3-redis is not installed")
    sys.exit(0)

PORT = int(sys.argv[1])


def check(name, fn):
    try:
        fn()
        print("PASS " + name)
    except Exception as e:  # any failure is reported, not raised
        print("FAIL %s: %r" % (name, e))


def eq(got, want):
    if got != want:
        raise AssertionError("expected %r got %r" % (want, got))


r = redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=10)


def t_connect():
    named = redis.Redis(host="127.0.0.1", port=PORT, client_name="pyclient",
                        socket_timeout=10)
    eq(named.ping(), True)
    eq(named.client_getname(), "pyclient")
    named.close()


def t_set_get():
    r.flushall()
    eq(r.set("py:k", "v"), True)
    eq(r.get("py:k"), b"v")
    eq(r.get("py:missing"), None)
    eq(r.set("py:k", "w", nx=True), None)
    eq(r.set("py:k", "x", xx=True, get=True), b"v")
    eq(r.getdel("py:k"), b"x")


def t_expire():
    r.set("py:e", "v", ex=100)
    ttl = r.ttl("py:e")
    if not 99 <= ttl <= 100:
        raise AssertionError("ttl %r" % ttl)
    eq(r.persist("py:e"), True)
    eq(r.ttl("py:e"), -1)
    r.set("py:short", "v", px=50)
    time.sleep(0.12)
    eq(r.exists("py:short"), 0)


def t_incr():
    r.delete("py:n")
    eq(r.incr("py:n"), 1)
    eq(r.incrby("py:n", 10), 11)
    eq(r.decr("py:n"), 10)
    eq(r.incrbyfloat("py:n", 0.5), 10.5)


def t_error():
    r.set("py:s", "abc")
    try:
        r.incr("py:s")
    except redis.ResponseError as e:
        eq(str(e), "value is not an integer or out of range")
        return
    raise AssertionError("no error raised")


def t_pipeline():
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("py:p:%d" % i, i)
    p.incr("py:pc")
    p.get("py:p:999")
    res = p.execute()
    eq(len(res), 1002)
    eq(res[1000], 1)
    eq(res[1001], b"999")


def t_mset_mget():
    r.mset({"py:a": 1, "py:b": 2})
    eq(r.mget("py:a", "py:b", "py:none"), [b"1", b"2", None])


def t_scan():
    keys = set(r.scan_iter(match="py:p:*", count=100))
    eq(len(keys), 1000)


def t_info():
    info = r.info()
    eq(info["tcp_port"], PORT)
    if "connected_clients" not in info or "used_memory" not in info:
        raise AssertionError("missing fields")
    eq(r.dbsize() > 0, True)


def t_config():
    eq(r.config_get("port"), {"port": str(PORT)})


def t_resp3():
    if "protocol" not in inspect.signature(redis.Redis.__init__).parameters:
        print("SKIP redis_py_resp3: redis-py %s has no protocol=3" % redis.__version__)
        return False
    c = redis.Redis(host="127.0.0.1", port=PORT, protocol=3, socket_timeout=10)
    c.set("py:r3", "v")
    eq(c.get("py:r3"), b"v")
    eq(c.get("py:none"), None)
    eq(c.config_get("port"), {b"port": str(PORT).encode()})
    c.close()
    return True


check("redis_py_connect_with_client_name", t_connect)
check("redis_py_set_get", t_set_get)
check("redis_py_expire", t_expire)
check("redis_py_incr", t_incr)
check("redis_py_error_text", t_error)
check("redis_py_pipeline", t_pipeline)
check("redis_py_mset_mget", t_mset_mget)
check("redis_py_scan_iter", t_scan)
check("redis_py_info", t_info)
check("redis_py_config_get", t_config)
try:
    if t_resp3():
        print("PASS redis_py_resp3")
except Exception as e:
    print("FAIL redis_py_resp3: %r" % e)
