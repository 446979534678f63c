#!/usr/bin/env python3
"""Differential test: raftcache-server against redis-server 7.0, reply bytes.

Starts one raftcache node (its own --dir in a temporary directory) and one
redis-server (no persistence) on free loopback ports, sends both the same
seeded random stream of string, key and expiry commands over a small key
space (so commands interact), once in RESP2 and once after HELLO 3, and
compares the raw reply bytes. Raw sockets, no client library: what is
compared is exactly what a client would read.

    tests/compat/compat.py [--server-bin B] [--redis-bin R] [--seeds N]
                           [--seed-start S] [--count C] [--proto 2|3|both]

Prints one line per mismatch (seed, protocol, command number, command, both
replies, and a replay line) and ends with "compat: N passed, N failed",
one pass per seed and protocol. Exit status 0 when nothing failed.

Normalisation is kept to what must differ between two correct servers; each
case is explained in normalize() and in the generators (relative TTLs are
drawn from wide ranges so that two of them never tie within a millisecond).
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------- RESP ----

def encode(args):
    """A RESP multibulk for a list of bytes arguments."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One connection that returns each reply as its exact bytes."""

    def __init__(self, port, timeout=10.0, name="server"):
        self.name = name
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def close(self):
        self.sock.close()

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("%s: no reply within %.0f s" %
                               (self.name, self.sock.gettimeout()))
        if not chunk:
            raise ConnectionError("%s closed the connection" % self.name)
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._fill()

    def _take(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def _value(self):
        """Parses one reply, returns (raw bytes, python value)."""
        line = self._line()
        t, rest = line[:1], line[1:]
        raw = line + b"\r\n"
        if t in (b"+", b"-", b":", b",", b"(", b"#", b"_"):
            if t == b"-":
                return raw, ("err", rest)
            if t == b":":
                return raw, int(rest)
            if t == b"_":
                return raw, None
            return raw, ("simple", rest)
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return raw, None
            data = self._take(n + 2)
            return raw + data, data[:-2]
        if t in (b"*", b"~", b">", b"%", b"|"):
            n = int(rest)
            if n < 0:
                return raw, None
            if t in (b"%", b"|"):
                n *= 2
            items = []
            for _ in range(n):
                r, v = self._value()
                raw += r
                items.append(v)
            return raw, items
        raise ValueError("bad reply type byte %r in %r" % (t, line))

    def call(self, args):
        self.sock.sendall(encode(args))
        return self._value()

    def call_raw(self, data):
        self.sock.sendall(data)
        return self._value()


# ------------------------------------------------------------- servers ----

def free_base():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "free_base.py")],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("no free ports")
    return int(out.stdout.strip())


def wait_up(proc, port, what):
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            c = Conn(port, 1.0)
            raw, _ = c.call([b"PING"])
            c.close()
            if raw.startswith(b"+PONG"):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("%s did not answer PING on port %d" % (what, port))


class Servers:
    """raftcache on base, redis-server on base+1 (free_base checks both,
    and raftcache's bus port base+10000)."""

    def __init__(self, server_bin, redis_bin, pid_file=None, extra=()):
        self.tmp = tempfile.mkdtemp(prefix="rc-compat-")
        self.procs = []
        self.pid_file = pid_file
        base = free_base()
        self.rc_port, self.redis_port = base, base + 1
        rcdir = os.path.join(self.tmp, "rc")
        os.mkdir(rcdir)
        rlog = open(os.path.join(self.tmp, "rc.log"), "w")
        # raft-fsync off: a single node's writes need no fsync to be compared.
        self.procs.append(subprocess.Popen(
            [server_bin, "--port", str(self.rc_port), "--bind", "127.0.0.1",
             "--dir", rcdir, "--raft-fsync", "off"] + list(extra),
            stdout=rlog, stderr=subprocess.STDOUT))
        self.record(self.procs[-1])
        wait_up(self.procs[-1], self.rc_port, "raftcache-server")
        dlog = open(os.path.join(self.tmp, "redis.log"), "w")
        self.procs.append(subprocess.Popen(
            [redis_bin, "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--databases", "1",
             "--dir", self.tmp, "--protected-mode", "no"],
            stdout=dlog, stderr=subprocess.STDOUT))
        self.record(self.procs[-1])
        wait_up(self.procs[-1], self.redis_port, "redis-server")

    def record(self, proc):
        """Lets a caller that must kill this program stop its servers."""
        if self.pid_file:
            with open(self.pid_file, "a") as f:
                f.write("%d\n" % proc.pid)

    def stop(self, keep=False):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if keep:
            print("server logs kept in %s" % self.tmp, flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ----------------------------------------------------------- generator ----

KEYS = [b"k1", b"k2", b"k3", b"{k}x", b"", b"\x00b\xffin", b"K1", b"a key",
        b"*", b"k[1]"]
VALUES = [
    b"", b"0", b"1", b"-1", b"10", b"abc", b"3.14", b" 1", b"1 ", b"+1",
    b"01", b"-0", b"9223372036854775807", b"-9223372036854775808",
    b"9223372036854775808", b"1e3", b"inf", b"-inf", b"nan", b"0x10",
    b"1.5e308", b"\x00\xff\r\n", b"x" * 44, b"y" * 45, b"hello world",
    b"12345678901234567890", b"-", b"1.", b".5", b"5e-1", b"00", b"\xe2\x82\xac",
]
INTS = [
    b"0", b"1", b"-1", b"2", b"-2", b"3", b"5", b"10", b"-10", b"100",
    b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
    b"-9223372036854775809", b"abc", b"", b"1.5", b" 1", b"+1", b"01", b"1e3",
    b"0x1", b"-0", b"4294967296",
]
FLOATS = [
    b"0", b"1", b"-1", b"0.1", b"-0.1", b"1.5", b"3.0e3", b"5e-1", b"1e308",
    b"-1e308", b"1.7976931348623157e308", b"1e-320", b"inf", b"-inf",
    b"+inf", b"nan", b"abc", b"", b" 1", b"1 ", b"0x10", b"1e400",
    b"10.50", b"-0", b"9223372036854775807", b"1.0000000000000001",
    b"3.14159265358979323846", b"0.30000000000000004", b"1e20", b"123456789.123",
]
OFFSETS = [
    b"0", b"1", b"2", b"-1", b"-2", b"-100", b"5", b"10", b"100", b"1000",
    b"9223372036854775807", b"-9223372036854775808", b"536870911",
    b"536870912", b"4294967296", b"abc", b"", b"1.5", b"-0",
]
# Options as written, in any case; the generator mixes case per word.
SET_OPTS = [b"NX", b"XX", b"GET", b"KEEPTTL", b"EX", b"PX", b"EXAT", b"PXAT"]
GETEX_OPTS = [b"EX", b"PX", b"EXAT", b"PXAT", b"PERSIST"]
EXPIRE_FLAGS = [b"NX", b"XX", b"GT", b"LT"]
PATTERNS = [b"*", b"k*", b"k?", b"[kK]1", b"*x", b"\\{*", b"", b"nomatch",
            b"*\x00*", b"k[^1]", b"[a-z]*", b"{k}*", b"[", b"k[", b"\\",
            b"*\\", b"[!k]*", b"[^", b"?*?", b"k[1-3]", b"k[3-1]", b"[a-]*",
            b"k[\\]]", b"**", b"\\*", b"k\\[1]", b"[[]*", b"*[", b"a?key",
            b"*\xff*", b"[\x00-\x01]*", b"?", b"k[1", b"[]]*", b"[^]k]*"]
UNKNOWN = [b"foo", b"GETT", b"setx", b"", b"key s", b"\x00x"]


class Gen:
    """The seeded command stream. `now` is fixed at the start of a pass so
    absolute times are far in the past or far in the future of both
    servers: their effect then does not depend on when a server runs."""

    def __init__(self, seed, now_s):
        self.r = random.Random(seed)
        self.now = now_s

    def pick(self, xs):
        return self.r.choice(xs)

    def case(self, word):
        """Mixed case for command names and options (Redis ignores case)."""
        p = self.r.random()
        if p < 0.6:
            return word
        if p < 0.8:
            return word.lower()
        return bytes(c ^ 0x20 if 65 <= (c & 0xDF) <= 90 and self.r.random() < 0.5
                     else c for c in word)

    def numeric(self):
        """A random number-like string: sign, leading zeros, digits, a
        fraction, an exponent, hex, stray spaces; for the integer and float
        parsers (string2ll, strtold in string2ld) at their edges."""
        r = self.r
        if r.random() < 0.15:
            return self.pick([b"0x1p3", b"0X1P-2", b"infinity", b"-Infinity",
                              b"INF", b"NaN", b"1e-400", b"1e4933", b"1e-4940",
                              b"1_000", b"\xd9\xa1", b"1e", b"1e+", b".", b"-.5",
                              b"+.5e1", b"5.", b"0" * 30 + b"1", b"9" * 19,
                              b"1" + b"0" * 5200, b"0." + b"0" * 5200 + b"1"])
        out = r.choice([b"", b"", b"", b"-", b"+"])
        if r.random() < 0.2:
            out += b"0" * r.randint(1, 3)
        out += str(r.randint(0, 10 ** r.randint(0, 21))).encode()
        if r.random() < 0.3:
            out += b"." + str(r.randint(0, 10 ** r.randint(0, 18))).encode()
        if r.random() < 0.15:
            out += r.choice([b"e", b"E"]) + r.choice([b"", b"-", b"+"]) + \
                str(r.randint(0, 400)).encode()
        if r.random() < 0.05:
            out = r.choice([b" ", b"\t"]) + out if r.random() < 0.5 else out + b" "
        return out

    def key(self):
        return self.pick(KEYS)

    def value(self):
        if self.r.random() < 0.15:
            return str(self.r.randint(-1000, 1000)).encode()
        if self.r.random() < 0.08:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 80)))
        return self.pick(VALUES)

    def rel_secs(self):
        """Relative seconds: either an edge (0, negative, overflow, not a
        number) or a wide random range. Two relative TTLs set on one key
        within the same millisecond compare equal on one server and not on
        the other (GT/LT); drawn from 10^7 values, ties do not happen."""
        if self.r.random() < 0.05:
            v = self.numeric()  # parse edges; a TTL short enough to run
            try:                # out during a pass would be timing
                if 0 < int(v) < 10 ** 6:
                    v = b"abc" + v
            except ValueError:
                pass
            return v
        if self.r.random() < 0.3:
            return self.pick([b"0", b"-1", b"-100", b"abc", b"", b"1.5",
                              b"9223372036854775807", b"9223372036854775",
                              b"9223372036854776", b"-9223372036854775808",
                              b"4611686018427387904", b"+100", b" 100"])
        return str(self.r.randint(1000, 10_000_000)).encode()

    def rel_ms(self):
        if self.r.random() < 0.3:
            return self.pick([b"0", b"-1", b"abc", b"9223372036854775807",
                              b"-9223372036854775808", b"9223372036854775806",
                              b"1e3", b""])
        return str(self.r.randint(1_000_000, 10_000_000_000)).encode()

    def abs_secs(self):
        p = self.r.random()
        if p < 0.25:
            return self.pick([b"0", b"1", b"-1", b"abc", b"9223372036854775807",
                              b"9223372036854775", b"-9223372036854775808"])
        if p < 0.5:  # in the past: the key is deleted at once
            return str(self.now - self.r.randint(10, 10_000_000)).encode()
        return str(self.now + self.r.randint(1000, 10_000_000)).encode()

    def abs_ms(self):
        p = self.r.random()
        if p < 0.25:
            return self.pick([b"0", b"1", b"-1", b"abc", b"9223372036854775807",
                              b"-9223372036854775808"])
        if p < 0.5:
            return str(self.now * 1000 - self.r.randint(10, 10**10)).encode()
        return str(self.now * 1000 + self.r.randint(10**6, 10**10)).encode()

    def time_arg(self, opt):
        o = opt.upper()
        if o == b"EX":
            return self.rel_secs()
        if o == b"PX":
            return self.rel_ms()
        if o == b"EXAT":
            return self.abs_secs()
        return self.abs_ms()

    def opts(self, pool, timed):
        """0-3 options from pool, duplicates and conflicts allowed, each
        timed one followed by its argument (or, rarely, not)."""
        out = []
        for _ in range(self.r.choice([0, 0, 1, 1, 1, 2, 2, 3])):
            o = self.pick(pool)
            out.append(self.case(o))
            if o in timed and self.r.random() < 0.95:
                out.append(self.time_arg(o))
        return out

    # One function per command family: each returns an argv (list of bytes).
    def g_set(self):
        return [b"SET", self.key(), self.value()] + \
            self.opts(SET_OPTS, (b"EX", b"PX", b"EXAT", b"PXAT"))

    def g_getex(self):
        return [b"GETEX", self.key()] + \
            self.opts(GETEX_OPTS, (b"EX", b"PX", b"EXAT", b"PXAT"))

    def g_simple_key(self):
        return [self.pick([b"GET", b"GETDEL", b"INCR", b"DECR", b"STRLEN",
                           b"TYPE", b"PERSIST", b"TTL", b"PTTL", b"EXPIRETIME",
                           b"PEXPIRETIME"]), self.key()]

    def g_key_value(self):
        return [self.pick([b"SETNX", b"GETSET", b"APPEND"]), self.key(), self.value()]

    def g_setex(self):
        cmd = self.pick([b"SETEX", b"PSETEX"])
        t = self.rel_secs() if cmd == b"SETEX" else self.rel_ms()
        return [cmd, self.key(), t, self.value()]

    def g_incrby(self):
        n = self.pick(INTS) if self.r.random() < 0.6 else self.numeric()
        return [self.pick([b"INCRBY", b"DECRBY"]), self.key(), n]

    def g_incrbyfloat(self):
        n = self.pick(FLOATS) if self.r.random() < 0.6 else self.numeric()
        return [b"INCRBYFLOAT", self.key(), n]

    def g_set_number(self):
        """Numeric strings for INCR-family to work on."""
        v = self.pick(INTS + FLOATS + [str(self.r.randint(-99, 99)).encode()])
        if self.r.random() < 0.4:
            v = self.numeric()
        return [b"SET", self.key(), v]

    def offset(self):
        return self.pick(OFFSETS) if self.r.random() < 0.8 else self.numeric()

    def g_range(self):
        cmd = self.pick([b"GETRANGE", b"SUBSTR"])
        return [cmd, self.key(), self.offset(), self.offset()]

    def g_setrange(self):
        off = self.offset()
        # A successful SETRANGE at a huge offset would allocate that much on
        # both servers: beyond 100000 only values that must fail (or empty).
        try:
            n = int(off)
        except ValueError:
            n = 0
        val = self.value()
        if n > 100000 and val and n + len(val) <= 512 * 1024 * 1024:
            off = b"536870912"
        return [b"SETRANGE", self.key(), off, val]

    def g_multi_key(self):
        cmd = self.pick([b"MGET", b"DEL", b"UNLINK", b"EXISTS", b"TOUCH"])
        return [cmd] + [self.key() for _ in range(self.r.randint(1, 4))]

    def g_mset(self):
        cmd = self.pick([b"MSET", b"MSETNX"])
        out = [cmd]
        for _ in range(self.r.randint(1, 3)):
            out += [self.key(), self.value()]
        if self.r.random() < 0.1:
            out.append(self.key())  # odd number of arguments
        return out

    def g_expire(self):
        cmd = self.pick([b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"])
        t = {b"EXPIRE": self.rel_secs, b"PEXPIRE": self.rel_ms,
             b"EXPIREAT": self.abs_secs, b"PEXPIREAT": self.abs_ms}[cmd]()
        out = [cmd, self.key(), t]
        for _ in range(self.r.choice([0, 0, 1, 1, 2])):
            out.append(self.case(self.pick(EXPIRE_FLAGS + [b"XY"])))
        return out

    def g_rename(self):
        return [self.pick([b"RENAME", b"RENAMENX"]), self.key(), self.key()]

    def g_keys(self):
        return [b"KEYS", self.pick(PATTERNS)]

    def g_scan(self):
        cursor = b"0" if self.r.random() < 0.85 else self.pick(
            [b"abc", b"-1", b"18446744073709551615", b"18446744073709551616",
             b"", b"1.5", b"7"])
        out = [b"SCAN", cursor]
        for _ in range(self.r.choice([0, 1, 1, 2, 3])):
            o = self.pick([b"MATCH", b"COUNT", b"TYPE", b"BOGUS"])
            out.append(self.case(o))
            if self.r.random() < 0.05:
                continue
            if o == b"MATCH":
                out.append(self.pick(PATTERNS))
            elif o == b"COUNT":
                out.append(self.pick([b"1", b"2", b"10", b"1000", b"0", b"-1",
                                      b"abc", b"9223372036854775807"]))
            elif o == b"TYPE":
                out.append(self.pick([b"string", b"STRING", b"list", b"hash",
                                      b"none", b"zset", b"foo"]))
        return out

    def g_object(self):
        sub = self.case(self.pick([b"ENCODING", b"REFCOUNT", b"IDLETIME",
                                   b"FREQ", b"HELP", b"NOPE"]))
        out = [b"OBJECT", sub]
        if self.r.random() < 0.95:
            out.append(self.key())
        if self.r.random() < 0.05:
            out.append(self.key())
        return out

    def g_encoding(self):
        """int / embstr / raw, as Redis chooses them after each write."""
        return [b"OBJECT", b"ENCODING", self.key()]

    def g_misc(self):
        return self.pick([
            [b"DBSIZE"], [b"RANDOMKEY"], [b"PING"], [b"PING", self.value()],
            [b"ECHO", self.value()], [b"SELECT", self.pick([b"0", b"1", b"-1", b"abc"])],
            [b"DBSIZE", b"x"], [b"RANDOMKEY", b"x"], [b"ECHO"],
            [b"PING", b"a", b"b"], [b"SWAPDB", b"0", b"0"],
            [b"SWAPDB", self.pick([b"0", b"1", b"-1", b"x"]), self.pick([b"0", b"1", b"x"])],
            [b"TOUCH"], [b"MGET"], [b"EXISTS", b"nokey", b"nokey"],
            [b"RESET"], [b"MGET"] + [self.key() for _ in range(40)],
            [b"DEL"] + [self.key() for _ in range(30)],
            [b"MSET"] + [x for _ in range(30) for x in (self.key(), self.value())],
        ])

    def g_unknown(self):
        return [self.pick(UNKNOWN)] + [self.value() for _ in range(self.r.randint(0, 3))]

    def g_flush(self):
        return [self.pick([b"FLUSHDB", b"FLUSHALL"])] + \
            ([self.case(self.pick([b"ASYNC", b"SYNC", b"LAZY"]))] if self.r.random() < 0.3 else [])

    TABLE = [
        ("g_set", 14), ("g_getex", 5), ("g_simple_key", 12), ("g_key_value", 6),
        ("g_setex", 3), ("g_incrby", 4), ("g_incrbyfloat", 5), ("g_set_number", 6),
        ("g_range", 5), ("g_setrange", 5), ("g_multi_key", 6), ("g_mset", 3),
        ("g_expire", 10), ("g_rename", 3), ("g_keys", 2), ("g_scan", 3),
        ("g_object", 2), ("g_encoding", 3), ("g_misc", 2), ("g_unknown", 1), ("g_flush", 0.3),
    ]

    def g_command_info(self):
        sub = self.case(self.pick([b"INFO", b"DOCS", b"GETKEYS", b"COUNT"]))
        # Not CLIENT or CONFIG: raftcache implements a subset of their
        # subcommands (README), so their lists differ by design.
        names = [b"get", b"SET", b"getex", b"mset", b"scan", b"expire",
                 b"object", b"del", b"incrbyfloat", b"nosuch", b"", b"unwatch",
                 b"object|freq", b"ping", b"echo"]
        out = [b"COMMAND", sub]
        if sub.upper() == b"GETKEYS":
            inner = self.one()
            return out + inner
        if sub.upper() == b"COUNT":
            return out + ([b"x"] if self.r.random() < 0.5 else [])
        return out + [self.pick(names) for _ in range(self.r.randint(1, 2))]

    def g_client(self):
        return self.pick([
            [b"CLIENT", self.case(b"GETNAME")],
            [b"CLIENT", self.case(b"SETNAME"), self.pick(
                [b"name", b"", b"a b", b"a\nb", b"x" * 60, b"\x7f", b"n1"])],
            [b"CLIENT", self.case(b"SETNAME")],
            [b"CLIENT", self.case(b"GETNAME"), b"x"],
            [b"CLIENT", b"NOSUCH"], [b"CLIENT"],
            [b"CLIENT", self.case(b"NO-EVICT"), self.pick([b"on", b"OFF", b"maybe"])],
            [b"CLIENT", self.case(b"REPLY"), self.pick([b"bad", b"on"])],
        ])

    def g_hello(self, proto):
        """HELLO that fails, or that keeps the connection's protocol."""
        p = str(proto).encode()
        return self.pick([
            [b"HELLO", self.pick([b"4", b"1", b"0", b"-1", b"abc", b"", b"2.5"])],
            [b"HELLO", p, b"AUTH", b"default"],
            [b"HELLO", p, b"AUTH", b"default", b"pw"],
            [b"HELLO", p, b"AUTH", b"nouser", b"pw"],
            [b"HELLO", p, b"SETNAME", self.pick([b"ok", b"a b", b""])],
            [b"HELLO", p, b"BOGUS"],
            [b"HELLO", p, self.case(b"setname")],
            [b"AUTH", b"pw"], [b"AUTH", b"default", b"pw"], [b"AUTH", b"u", b"p"],
            [b"AUTH"],
            # A protocol switch: both servers switch, the pass goes on.
            [b"HELLO", self.pick([b"2", b"3"])],
        ])

    # Replies that depend on time, hash order or randomness: kept out of
    # MULTI blocks, where EXEC's one array could not be normalised per part.
    UNSTABLE = (b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME", b"RANDOMKEY",
                b"KEYS", b"SCAN", b"OBJECT", b"DBSIZE", b"COMMAND", b"CLIENT",
                b"HELLO", b"AUTH")

    def one(self):
        names = [n for n, _ in self.TABLE]
        weights = [w for _, w in self.TABLE]
        argv = getattr(self, self.r.choices(names, weights)[0])()
        argv[0] = self.case(argv[0])
        # Wrong arity now and then: cut the arguments short, or add one.
        p = self.r.random()
        if p < 0.03 and len(argv) > 1:
            argv = argv[:self.r.randint(1, len(argv) - 1)]
        elif p < 0.05:
            # Never a small number: after a bare "PX" it would be a TTL short
            # enough to run out during the pass.
            argv = argv + [self.pick([b"x", b"", b"0", b"-1", b"NX", b"GET", b"ex",
                                      b"KEEPTTL", b"\x00"])]
        return argv

    def multi_block(self):
        """MULTI, queued commands (some malformed: EXECABORT), then EXEC or
        DISCARD; and stray EXEC, DISCARD or nested MULTI."""
        if self.r.random() < 0.2:
            return [[self.case(self.pick([b"EXEC", b"DISCARD", b"UNWATCH"]))]]
        out = [[self.case(b"MULTI")]]
        for _ in range(self.r.randint(0, 4)):
            argv = self.one()
            while argv[0].upper() in self.UNSTABLE:
                argv = self.one()
            out.append(argv)
        if self.r.random() < 0.1:
            out.insert(self.r.randint(1, len(out)), [self.case(self.pick(
                [b"MULTI", b"UNWATCH", b"WATCH", b"DISCARD"]))])
        out.append([self.case(self.pick([b"EXEC", b"EXEC", b"EXEC", b"DISCARD"]))])
        if self.r.random() < 0.05:
            out[-1].append(b"x")  # EXEC with an argument: arity error, still queued
            out.append([b"DISCARD"])
        return out

    def step(self, proto):
        """The next request(s): a list of (argv, inline) to send in order."""
        p = self.r.random()
        if p < 0.04:
            # Half of the transactions go in one write with what follows.
            if self.r.random() < 0.5:
                block = self.multi_block() + [self.one() for _ in range(self.r.randint(0, 3))]
                return [(argv, "pipe") for argv in block]
            return [(argv, False) for argv in self.multi_block()]
        if p < 0.06:
            return [(self.g_command_info(), False)]
        if p < 0.075:
            return [(self.g_client(), False)]
        if p < 0.085:
            return [(self.g_hello(proto), False)]
        if p < 0.11:
            # A pipeline: several requests in one write, replies read after.
            return [(self.one(), "pipe") for _ in range(self.r.randint(2, 12))]
        argv = self.one()
        # Inline form (telnet style) for some: Redis' sdssplitargs quoting.
        q = self.r.random()
        return [(argv, 1 if q < 0.05 else 2 if q < 0.1 else False)]


def inline(argv, style=0):
    """argv as one inline request line. Style 0: every word double-quoted
    with backslash-x escapes for anything not printable (as redis-cli
    writes); 1: bare words where possible, else single quotes where
    possible, words apart by runs of spaces and tabs. Both are read by
    Redis' sdssplitargs."""
    words = []
    for a in argv:
        plain = a and all(33 <= ch < 127 and chr(ch) not in "\"'" for ch in a)
        if style == 1 and plain:
            words.append(a.decode())
            continue
        if style == 1 and all(32 <= ch < 127 and chr(ch) not in "\\'" for ch in a):
            words.append("'" + a.decode() + "'")
            continue
        w = []
        for ch in a:
            c = chr(ch)
            if c in "\\\"":
                w.append("\\" + c)
            elif 32 <= ch < 127:
                w.append(c)
            else:
                w.append("\\x%02x" % ch)
        words.append('"' + "".join(w) + '"')
    sep = [" "] * len(words) if style == 0 else [
        (" ", "  ", "\t", " \t ")[(len(w) + i) % 4] for i, w in enumerate(words)]
    line = "".join(w + (sep[i] if i < len(words) - 1 else "") for i, w in enumerate(words))
    return (line + "\r\n").encode()


# ------------------------------------------------------- normalisation ----

def is_err(v):
    return isinstance(v, tuple) and v[0] == "err"


def normalize(argv, rc, rd, rc_val, rd_val, ctx):
    """True when the two replies agree. Raw bytes must be equal, except:"""
    if rc == rd:
        return True
    if is_err(rc_val) or is_err(rd_val):
        return False  # errors are always compared byte for byte
    name = argv[0].upper()
    # A HELLO that succeeds describes the server (name, version, client id):
    # the reply's type is compared, not its contents.
    if name == b"HELLO":
        return rc[:1] == rd[:1]
    # COMMAND COUNT: raftcache has fewer commands than Redis, by design.
    if name == b"COMMAND" and len(argv) > 1 and argv[1].upper() == b"COUNT" \
            and len(argv) == 2:
        return isinstance(rc_val, int) and isinstance(rd_val, int)
    if name == b"COMMAND" and len(argv) > 1 and argv[1].upper() in (b"INFO", b"DOCS"):
        docs = argv[1].upper() == b"DOCS"
        return flat(sort_subcommands(parse_tree(rc)[0], docs)) == \
            flat(sort_subcommands(parse_tree(rd)[0], docs))
    # KEYS: the order is the hash table's, which no client may rely on.
    if name == b"KEYS":
        return isinstance(rc_val, list) and isinstance(rd_val, list) and \
            sorted(rc_val) == sorted(rd_val)
    # TTL and EXPIRETIME are rounded seconds of a time measured a few ms
    # apart on the two servers: allow 1 s. PTTL/PEXPIRETIME: allow 1000 ms.
    if name in (b"TTL", b"EXPIRETIME", b"PTTL", b"PEXPIRETIME"):
        slack = 1 if name in (b"TTL", b"EXPIRETIME") else 1000
        if isinstance(rc_val, int) and isinstance(rd_val, int):
            if rc_val < 0 or rd_val < 0:
                return rc_val == rd_val
            return abs(rc_val - rd_val) <= slack
        return False
    # RANDOMKEY: a random pick; both must be nil, or both a key.
    if name == b"RANDOMKEY":
        return type(rc_val) is type(rd_val)
    # OBJECT IDLETIME/FREQ are clocks and counters of each server's own.
    if name == b"OBJECT" and len(argv) > 1 and \
            argv[1].upper() in (b"IDLETIME", b"FREQ"):
        return isinstance(rc_val, int) and isinstance(rd_val, int)
    # SCAN: the cursor and which keys one call returns follow the hash
    # table. Callers compare the full iteration (scan_all), here the shape.
    if name == b"SCAN":
        return isinstance(rc_val, list) and isinstance(rd_val, list) and \
            len(rc_val) == 2 == len(rd_val)
    return False


def parse_tree(raw, pos=0):
    """RESP bytes to a tree of (header line, children); returns (tree, end)."""
    i = raw.index(b"\r\n", pos)
    line = raw[pos:i]
    pos = i + 2
    t = line[:1]
    if t in (b"$", b"=", b"!") and int(line[1:]) >= 0:
        n = int(line[1:])
        return (line, raw[pos:pos + n]), pos + n + 2
    if t in (b"*", b"~", b">", b"%", b"|") and int(line[1:]) >= 0:
        n = int(line[1:]) * (2 if t in (b"%", b"|") else 1)
        kids = []
        for _ in range(n):
            k, pos = parse_tree(raw, pos)
            kids.append(k)
        return (line, kids), pos
    return (line, None), pos


def flat(tree):
    head, body = tree
    if isinstance(body, list):
        return head + b"\r\n" + b"".join(flat(k) for k in body)
    if body is None:
        return head + b"\r\n"
    return head + b"\r\n" + body + b"\r\n"


def sort_subcommands(tree, docs):
    """COMMAND INFO / DOCS list a command's subcommands in the order of a
    dict whose hash seed Redis draws at random at start-up (two
    redis-servers disagree with each other): sort them, keeping types."""
    head, body = tree
    if not isinstance(body, list):
        return tree
    body = [sort_subcommands(k, docs) for k in body]
    if not docs and len(body) == 10 and isinstance(body[9][1], list):
        body[9] = (body[9][0], sorted(body[9][1], key=flat))
    if docs:
        for j in range(0, len(body) - 1, 2):
            if body[j][1] == b"subcommands" and isinstance(body[j + 1][1], list):
                kids = body[j + 1][1]
                pairs = sorted(zip(kids[0::2], kids[1::2]), key=lambda p: flat(p[0]))
                body[j + 1] = (body[j + 1][0], [x for p in pairs for x in p])
    return (head, body)


def scan_all(conn, argv):
    """Follow SCAN's cursor to 0 with the same options; the set of keys."""
    keys = set()
    cursor = b"0"
    for _ in range(10000):
        _, v = conn.call([argv[0], cursor] + argv[2:])
        if not isinstance(v, list):
            return ("not an array", v)
        keys.update(v[1])
        cursor = v[0]
        if cursor == b"0":
            return sorted(keys)
    return ("no end", None)


def dbsize_settled(a, b):
    """DBSIZE counts keys whose expire time is already past until the active
    expire cycle (hz 10 on both) deletes them: SET ... PXAT <past> leaves
    such a key on both servers, and which of them has reaped it when DBSIZE
    arrives is timing. Ask both again for up to 2 s until they agree."""
    deadline = time.time() + 2
    while True:
        rc, _ = a.call([b"DBSIZE"])
        rd, _ = b.call([b"DBSIZE"])
        if rc == rd or time.time() > deadline:
            return rc == rd, rc, rd
        time.sleep(0.05)


def snapshot(conn):
    """The whole keyspace: key, value and whether it has a TTL."""
    conn.call([b"DISCARD"])  # in case a transaction was left open
    _, keys = conn.call([b"KEYS", b"*"])
    out = []
    for k in sorted(keys):
        _, v = conn.call([b"GET", k])
        _, t = conn.call([b"PTTL", k])
        out.append((k, v, t >= 0 if isinstance(t, int) else t))
    return out


# ----------------------------------------------------------------- run ----

def show(b, limit=300):
    s = repr(b)
    return s if len(s) <= limit else s[:limit] + "...(%d bytes)" % len(b)


def check(a, b, argv, inl, rc, rd, rcv, rdv, where, args, log):
    """Compares one reply pair; returns 1 (and resynchronises) on mismatch."""
    ok = normalize(argv, rc, rd, rcv, rdv, None)
    if args.trace:
        log("#%d %s%s -> %s | %s" % (where[2], "(inline) " if inl else "",
                                      b" ".join(argv), show(rc, 120), show(rd, 120)))
    name = argv[0].upper()
    # SCAN ... TYPE none: Redis 7.0 looks the type up through an expiring
    # lookup, so a key whose time is past but which its active expire cycle
    # has not reached yet is deleted there and reported as type "none";
    # which keys those are is timing. Only the shape is compared then.
    type_none = any(x.lower() == b"type" and y.lower() == b"none"
                    for x, y in zip(argv[2::2], argv[3::2]))
    if ok and name == b"SCAN" and argv[1:2] == [b"0"] and isinstance(rdv, list) \
            and not type_none:
        sa, sb = scan_all(a, argv), scan_all(b, argv)
        if sa != sb:
            ok, rc, rd = False, repr(sa).encode(), repr(sb).encode()
    if not ok and name == b"DBSIZE" and isinstance(rcv, int) and isinstance(rdv, int):
        ok, rc, rd = dbsize_settled(a, b)
    if ok:
        return 0
    seed, proto, i, shown = where
    if shown < args.show:
        log("MISMATCH seed %d proto %d command #%d%s: %s" %
            (seed, proto, i, " (inline)" if inl else "",
             " ".join(show(x, 80) for x in argv)))
        n = next((j for j in range(min(len(rc), len(rd))) if rc[j] != rd[j]),
                 min(len(rc), len(rd)))
        if n > 100:  # long replies: show where they part
            log("  first difference at byte %d" % n)
            rc, rd = b"..." + rc[n - 40:], b"..." + rd[n - 40:]
        log("  raftcache: %s" % show(rc))
        log("  redis:     %s" % show(rd))
        log("  replay: %s --seed-start %d --seeds 1 --proto %d --count %d --trace"
            % (os.path.relpath(__file__), seed, proto, i + 1))
    # Back to one state so later commands are compared fairly (an open
    # MULTI is closed first).
    for c in (a, b):
        c.call([b"DISCARD"])
        c.call([b"FLUSHALL"])
    return 1


def run_pass(srv, seed, proto, count, args, log):
    """One seed in one protocol; returns the number of mismatches."""
    a = Conn(srv.rc_port, name="raftcache")
    b = Conn(srv.redis_port, name="redis-server")
    try:
        for c in (a, b):
            c.call([b"FLUSHALL"])
            if proto == 3:
                # HELLO's reply names the server and its version: not compared.
                raw, _ = c.call([b"HELLO", b"3"])
                if not raw.startswith(b"%"):
                    log("seed %d: HELLO 3 failed: %s" % (seed, show(raw)))
                    return 1
        gen = Gen(seed, int(time.time()))
        bad = 0
        i = 0
        while i < count:
            step = gen.step(proto)
            if step[0][1] == "pipe":
                data = b"".join(encode(argv) for argv, _ in step)
                a.sock.sendall(data)
                b.sock.sendall(data)
                ra = [a._value() for _ in step]
                rb = [b._value() for _ in step]
                for j, (argv, _) in enumerate(step):
                    miss = check(a, b, argv, False, ra[j][0], rb[j][0], ra[j][1],
                                 rb[j][1], (seed, proto, i, bad), args, log)
                    bad += miss
                    i += 1
                    if miss:
                        break
                continue
            for argv, inl in step:
                if i >= count:
                    break
                if inl:
                    rc, rcv = a.call_raw(inline(argv, inl - 1))
                    rd, rdv = b.call_raw(inline(argv, inl - 1))
                else:
                    rc, rcv = a.call(argv)
                    rd, rdv = b.call(argv)
                miss = check(a, b, argv, inl, rc, rd, rcv, rdv,
                             (seed, proto, i, bad), args, log)
                bad += miss
                i += 1
                if miss:
                    break  # the rest of a MULTI block would only cascade
        sa, sb = snapshot(a), snapshot(b)
        if sa != sb:
            bad += 1
            log("MISMATCH seed %d proto %d: keyspaces differ at the end" % (seed, proto))
            log("  raftcache: %s" % show(repr(sa).encode(), 600))
            log("  redis:     %s" % show(repr(sb).encode(), 600))
        return bad
    finally:
        a.close()
        b.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server-bin", default=os.path.join(ROOT, "build", "raftcache-server"))
    ap.add_argument("--redis-bin", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--count", type=int, default=500, help="commands per seed")
    ap.add_argument("--proto", default="both", choices=["2", "3", "both"])
    ap.add_argument("--show", type=int, default=3, help="mismatches shown per pass")
    ap.add_argument("--server-arg", action="append", default=[],
                    help='an extra raftcache option, e.g. "--raft-snapshot-entries 1000"')
    ap.add_argument("--pid-file", help="append the servers' PIDs here")
    ap.add_argument("--trace", action="store_true", help="print every command")
    ap.add_argument("--time-limit", type=float, default=0,
                    help="stop starting new seeds after this many seconds")
    args = ap.parse_args()

    def log(msg):
        print(msg, flush=True)

    protos = [2, 3] if args.proto == "both" else [int(args.proto)]

    def on_term(signum, frame):
        raise SystemExit("stopped by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    extra = [w for opt in args.server_arg for w in opt.split(" ", 1)]
    srv = Servers(args.server_bin, args.redis_bin, args.pid_file, extra)
    passed = failed = total_bad = 0
    start = time.time()
    try:
        for seed in range(args.seed_start, args.seed_start + args.seeds):
            if args.time_limit and time.time() - start > args.time_limit:
                log("time limit reached before seed %d" % seed)
                break
            for proto in protos:
                try:
                    bad = run_pass(srv, seed, proto, args.count, args, log)
                except (OSError, ValueError, ConnectionError) as e:
                    log("seed %d proto %d: %s" % (seed, proto, e))
                    # Is the whole server stuck, or that one connection?
                    for port, what in ((srv.rc_port, "raftcache"),
                                       (srv.redis_port, "redis-server")):
                        try:
                            c = Conn(port, 2.0, what)
                            raw, _ = c.call([b"PING"])
                            c.close()
                            log("  %s answers a new connection: %s" % (what, show(raw)))
                        except (OSError, ValueError) as e2:
                            log("  %s does not answer a new connection: %s" % (what, e2))
                    bad = 1
                    for p in srv.procs:
                        if p.poll() is not None:
                            log("a server exited (%s); see its log" % p.returncode)
                            failed += 1
                            raise SystemExit(print("compat: %d passed, %d failed"
                                                   % (passed, failed)) or 1)
                total_bad += bad
                if bad:
                    failed += 1
                else:
                    passed += 1
    finally:
        # After a failure the servers' logs are kept for a look.
        srv.stop(keep=failed > 0)
    log("%d commands per pass, %d mismatches, %.1f s" %
        (args.count, total_bad, time.time() - start))
    log("compat: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
