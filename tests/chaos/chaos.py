#!/usr/bin/python3
"""Chaos run: a local 3-node (or 5-node) raftcache cluster under writes while nodes are
killed with SIGKILL, restarted and cut off from each other, then a check
that no acknowledged write was lost and that every node holds the same data.

Not a test of `make test` (it runs for minutes and its faults are random);
`make chaos` runs it. Usage:

    tests/chaos/chaos.py [--seconds 120] [--seed N] [--bin PATH]
                         [--writers 4] [--nodes 3|5] [--election-timeout 300]
                         [--args "--name value ..."]

Each writer thread owns three keys and never repeats an operation: after
an error or a timeout the operation's outcome is unknown and the writer
goes on with the next one. At the end, for writer w:
  - every acknowledged `SET w:k:<i> <value>` reads back that value, and no
    key the writer never tried exists;
  - `APPEND w:log "<i>,"`: the log holds every acknowledged i, only tried
    ones, each once, in increasing order (one append, one log position);
  - `INCR w:ctr`: acknowledged <= value <= tried, and the replies rise
    (no increment seen twice);
  - a reader thread sends `GET w:ctr` to random nodes (following -MOVED):
    never below the reply of the last INCR acknowledged before the GET was
    sent (reads are linearizable), never above the increments tried.
The faults, one every 1-3 s, picked with the seed: SIGKILL the leader or a
follower (with --nodes 5 sometimes one more node with it; restarted
0.5-3 s later); SIGKILL a follower, then the leader
0.5-2 s later while the follower comes back behind (the next leader must
be the other follower); make the log of the leader or a follower fail as
on a full disk (DEBUG RAFT-WAL-FAIL) and clear it 0.5-2 s later (the node
mends itself); pause the leader or a follower (SIGSTOP, SIGCONT 0.5-2 s
later); or isolate the leader or a follower with DEBUG RAFT-PARTITION
for 1-3 s. Afterwards every node runs and every
partition is healed, and all nodes must reach the same applied index with
equal DEBUG DIGESTs, and no node's log may hold a sanitizer report (for
builds with ASan / UBSan). Prints what it saw and ends with "chaos: PASS" or
"chaos: FAIL <why>" (exit 1). Only the processes recorded by
tests/cluster.sh in the run's own data directory are ever signalled.
"""
import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODES = 3


class Cluster:
    """tests/cluster.sh with a data directory and ports of its own."""

    def __init__(self, binary, data_dir, election_timeout, extra_args):
        base = subprocess.check_output(
            [sys.executable, os.path.join(ROOT, "tests/free_base.py"), str(NODES)],
            text=True).strip()
        self.base = int(base)
        self.env = dict(os.environ, BASE_PORT=base, DATA_DIR=data_dir, BIN=binary,
                        NODES=str(NODES),
                        ELECTION_TIMEOUT=str(election_timeout),
                        CLUSTER_ARGS="--enable-debug-command yes " + extra_args)
        self.down = set()

    def sh(self, *args, timeout=60):
        return subprocess.run(["bash", os.path.join(ROOT, "tests/cluster.sh"), *args],
                              env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def port(self, n):
        return self.base + n - 1

    def node_at(self, addr):
        """The node serving clients on host:port (as -MOVED and INFO name it)."""
        return int(addr.rsplit(":", 1)[1]) - self.base + 1

    def client(self, n, timeout=1.0):
        return redis.Redis(port=self.port(n), socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)

    def info_raft(self, n):
        try:
            return self.client(n).info("raft")
        except redis.RedisError:
            return None

    def leader(self):
        """The node every live node names as leader, or None."""
        seen = set()
        for n in range(1, NODES + 1):
            if n in self.down:
                continue
            info = self.info_raft(n)
            if info is None:
                return None
            seen.add(info.get("raft_leader_addr"))
        if len(seen) != 1:
            return None
        addr = seen.pop()
        if not addr or ":" not in addr:
            return None
        n = self.node_at(addr)
        return n if 1 <= n <= NODES else None

    def kill(self, n):
        self.sh("kill", str(n))
        self.down.add(n)

    def restart(self, n):
        self.sh("restart", str(n), timeout=60)
        self.down.discard(n)

    def start(self):
        r = self.sh("start", timeout=120)
        if r.returncode != 0:
            raise RuntimeError("cluster start failed: " + r.stderr.strip())
        self.down.clear()

    def stop(self):
        self.sh("stop", timeout=120)

    def partition(self, lone):
        """Cuts node lone off from the others (both directions)."""
        ids = {}
        for n in range(1, NODES + 1):
            info = self.info_raft(n)
            if info is None:
                return False
            ids[n] = str(info["raft_node_id"])
        try:
            others = [n for n in ids if n != lone]
            self.client(lone).execute_command("DEBUG", "RAFT-PARTITION",
                                              *[ids[o] for o in others])
            for o in others:
                self.client(o).execute_command("DEBUG", "RAFT-PARTITION", ids[lone])
        except redis.RedisError:
            return False
        return True

    def pid(self, n):
        """Node n's PID as tests/cluster.sh recorded it, if it runs our binary."""
        try:
            with open(os.path.join(self.env["DATA_DIR"], "node%d.pid" % n)) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
        except (OSError, ValueError):
            return None
        mine = os.path.basename(self.env["BIN"]).encode()
        port = str(self.port(n)).encode()
        if cmd and os.path.basename(cmd[0]) == mine and port in cmd:
            return pid
        return None

    def pause(self, n, seconds):
        """SIGSTOP node n for a while (a stalled machine), then SIGCONT."""
        pid = self.pid(n)
        if pid is None:
            return False
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGCONT)
        return True

    def disk_full(self, n, full):
        """DEBUG RAFT-WAL-FAIL: node n's log fails as on a full disk, or
        takes writes again (the node then reloads and rejoins by itself)."""
        try:
            self.client(n).execute_command("DEBUG", "RAFT-WAL-FAIL",
                                           *([] if full else ["CLEAR"]))
            return True
        except redis.RedisError:
            return False

    def heal(self):
        for n in range(1, NODES + 1):
            if n not in self.down:
                try:
                    self.client(n).execute_command("DEBUG", "RAFT-PARTITION")
                except redis.RedisError:
                    pass


class Writer(threading.Thread):
    """Sends SET, APPEND and INCR in turn to whichever node leads."""

    def __init__(self, w, cluster, stop):
        super().__init__(daemon=True)
        self.w, self.cl, self.stop_ev = w, cluster, stop
        self.set_ok, self.set_tried = {}, set()
        self.app_ok, self.app_tried = set(), set()
        self.incr_ok, self.incr_tried, self.incr_replies = 0, 0, []
        self.reads, self.stale = 0, []
        self.errors = {}
        self.node = 1
        self.conn = None

    def call(self, *args):
        """One attempt: the reply, or None when the outcome is unknown."""
        for _ in range(3):  # follows at most a few -MOVED, never resends after a failure
            try:
                if self.conn is None:
                    self.conn = self.cl.client(self.node, timeout=2.0)
                return self.conn.execute_command(*args)
            except redis.ResponseError as e:
                msg = str(e)
                if msg.startswith("MOVED"):
                    self.node = self.cl.node_at(msg)
                    self.conn = None
                    continue  # a refused write was not applied: resend is safe
                self.note(msg.split(" ")[0])
                if msg.startswith(("CLUSTERDOWN", "TRYAGAIN", "LOADING")):
                    self.rotate()
                return None
            except (redis.ConnectionError, redis.TimeoutError) as e:
                self.note(type(e).__name__)
                self.rotate()
                return None
        return None

    def note(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def rotate(self):
        self.conn = None
        self.node = self.node % NODES + 1
        time.sleep(0.02)

    def run(self):
        i = 0
        while not self.stop_ev.is_set():
            i += 1
            key, val = "%d:k:%d" % (self.w, i), "v%d-%d" % (self.w, i)
            self.set_tried.add(key)
            if self.call("SET", key, val) in (True, "OK"):  # redis-py maps OK to True
                self.set_ok[key] = val
            self.app_tried.add(i)
            if self.call("APPEND", "%d:log" % self.w, "%d," % i) is not None:
                self.app_ok.add(i)
            self.incr_tried += 1
            r = self.call("INCR", "%d:ctr" % self.w)
            if isinstance(r, int):
                self.incr_ok += 1
                self.incr_replies.append(r)

    def read_counter(self, rng, conns):
        """A GET sent to a random node after an acknowledged INCR must see
        at least it (linearizable reads), and no more than was tried."""
        last = self.incr_replies[-1] if self.incr_replies else 0
        n = rng.randint(1, NODES)
        for _ in range(3):
            try:
                if n not in conns:
                    conns[n] = self.cl.client(n, timeout=2.0)
                v = conns[n].execute_command("GET", "%d:ctr" % self.w)
                break
            except redis.ResponseError as e:
                if not str(e).startswith("MOVED"):
                    return
                n = self.cl.node_at(str(e))
            except (redis.ConnectionError, redis.TimeoutError):
                conns.pop(n, None)
                return
        else:
            return
        tried = self.incr_tried
        self.reads += 1
        if int(v or 0) < last or int(v or 0) > tried:
            self.stale.append((int(v or 0), last))


    def check(self, c):
        """Problems found against a client c of the leader."""
        bad = []
        keys = c.keys("%d:k:*" % self.w)
        for k in keys:
            if k not in self.set_tried:
                bad.append("w%d: key %s was never written" % (self.w, k))
        got = dict(zip(self.set_ok, c.mget(list(self.set_ok)))) if self.set_ok else {}
        for k, v in self.set_ok.items():
            if got.get(k) != v:
                bad.append("w%d: acknowledged SET %s=%s reads %r" % (self.w, k, v, got.get(k)))
        log = c.get("%d:log" % self.w) or ""
        items = [int(x) for x in log.split(",") if x]
        if items != sorted(set(items)):
            bad.append("w%d: log out of order or repeated: %s" % (self.w, log[:200]))
        if not set(items) <= self.app_tried:
            bad.append("w%d: log holds appends never sent" % self.w)
        lost = self.app_ok - set(items)
        if lost:
            bad.append("w%d: acknowledged appends lost: %s" % (self.w, sorted(lost)[:10]))
        ctr = int(c.get("%d:ctr" % self.w) or 0)
        if not self.incr_ok <= ctr <= self.incr_tried:
            bad.append("w%d: counter %d outside [%d, %d]" % (self.w, ctr, self.incr_ok, self.incr_tried))
        if self.incr_replies != sorted(set(self.incr_replies)) or \
           (self.incr_replies and self.incr_replies[-1] > ctr):
            bad.append("w%d: INCR replies repeat or exceed the counter" % self.w)
        if self.stale:
            bad.append("w%d: GET of the counter went back: %s (read, last acknowledged)"
                       % (self.w, self.stale[:5]))
        return bad


class Reader(threading.Thread):
    """Reads each writer's counter from random nodes."""

    def __init__(self, writers, seed, stop):
        super().__init__(daemon=True)
        self.writers, self.rng, self.stop_ev = writers, random.Random(seed), stop

    def run(self):
        conns = {}
        while not self.stop_ev.is_set():
            self.rng.choice(self.writers).read_counter(self.rng, conns)


def wait(pred, seconds):
    end = time.time() + seconds
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return None


def converged(cl):
    """Same applied index (= commit) and digest on every node, or None."""
    infos = [cl.info_raft(n) for n in range(1, NODES + 1)]
    if None in infos:
        return None
    applied = {i["raft_applied_index"] for i in infos}
    if len(applied) != 1 or infos[0]["raft_commit_index"] != applied.copy().pop():
        return None
    try:
        digests = {cl.client(n).execute_command("DEBUG", "DIGEST") for n in range(1, NODES + 1)}
    except redis.RedisError:
        return None
    return (applied.pop(), digests)


def log_counts(data):
    """How often the nodes loaded a snapshot sent to them, and mended a
    log that had stopped on a full disk."""
    marks = {"snapshots installed": "Raft snapshot ",
             "logs mended": "Raft log writable again"}
    counts = dict.fromkeys(marks, 0)
    for n in range(1, NODES + 1):
        try:
            with open(os.path.join(data, "node%d.log" % n), errors="replace") as f:
                for line in f:
                    for name, mark in marks.items():
                        if mark in line and (name != "snapshots installed" or
                                             line.rstrip().endswith(" installed")):
                            counts[name] += 1
        except OSError:
            pass
    return counts


def sanitizer_reports(data):
    """Nodes of a sanitizer build report into their logs."""
    found = []
    for n in range(1, NODES + 1):
        path = os.path.join(data, "node%d.log" % n)
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for mark in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if mark in text:
                found.append("node %d's log has a %s report" % (n, mark.rstrip(":")))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/raftcache-server"))
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--nodes", type=int, default=3, choices=(3, 5))
    ap.add_argument("--election-timeout", type=int, default=300)
    ap.add_argument("--args", default="")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    a = ap.parse_args()
    # a timeout's SIGTERM still stops the nodes (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    global NODES
    NODES = a.nodes
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("chaos: seed %d, %g s, %d nodes, %d writers, %s"
          % (seed, a.seconds, NODES, a.writers, a.bin), flush=True)
    data = tempfile.mkdtemp(prefix="raftcache-chaos.")
    cl = Cluster(os.path.abspath(a.bin), data, a.election_timeout, a.args)
    verdict = []
    faults = collections.Counter()
    try:
        cl.start()
        stop = threading.Event()
        writers = [Writer(w, cl, stop) for w in range(a.writers)]
        reader = Reader(writers, seed, stop)
        for w in writers + [reader]:
            w.start()
        end = time.time() + a.seconds
        while time.time() < end:
            time.sleep(rng.uniform(1, 3))
            leader = cl.leader()
            target = leader if (leader and rng.random() < 0.5) else rng.randint(1, NODES)
            role = "leader" if target == leader else "node"
            dice = rng.random()
            if leader and dice < 0.2:
                # A follower falls behind, then the leader dies: the next
                # leader must be the follower that has every write.
                f = rng.choice([n for n in range(1, NODES + 1) if n != leader])
                cl.kill(f)
                time.sleep(rng.uniform(0.5, 2))
                cl.kill(leader)
                cl.restart(f)
                faults["kill a follower, then the leader"] += 1
                time.sleep(rng.uniform(0.5, 2))
                cl.start()
            elif dice < 0.3:
                if cl.disk_full(target, True):
                    faults["full disk on " + role] += 1
                    time.sleep(rng.uniform(0.5, 2))
                    cl.disk_full(target, False)
            elif dice < 0.6:
                # the target and, in a group of 5, maybe one more: a minority
                more = rng.sample([n for n in range(1, NODES + 1) if n != target],
                                  rng.randint(0, (NODES - 1) // 2 - 1))
                for n in [target] + more:
                    cl.kill(n)
                name = "kill %s%s" % (role, " and %d more" % len(more) if more else "")
                faults[name] += 1
                time.sleep(rng.uniform(0.5, 3))
                cl.start()
            elif dice < 0.7:
                if cl.pause(target, rng.uniform(0.5, 2)):
                    faults["pause " + role] += 1
            elif cl.partition(target):
                faults["isolate " + role] += 1
                time.sleep(rng.uniform(1, 3))
                cl.heal()
        stop.set()
        for w in writers + [reader]:
            w.join(10)
        cl.heal()
        for n in range(1, NODES + 1):
            if n not in cl.down:
                cl.disk_full(n, False)
        cl.start()
        print("chaos: faults %s" % dict(faults), flush=True)
        conv = wait(lambda: converged(cl), 60)
        if conv is None:
            verdict.append("nodes did not converge within 60 s")
        elif len(conv[1]) != 1:
            verdict.append("digests differ at applied index %s: %s" % conv)
        else:
            print("chaos: all nodes at applied index %s, digest %s" % (conv[0], conv[1].pop()))
        leader = wait(cl.leader, 30)
        if leader is None:
            verdict.append("no leader at the end")
        else:
            c = cl.client(leader, timeout=10)
            for w in writers:
                verdict += w.check(c)
                print("chaos: writer %d: SET %d/%d acknowledged, APPEND %d/%d, INCR %d/%d, "
                      "%d GETs; errors %s"
                      % (w.w, len(w.set_ok), len(w.set_tried), len(w.app_ok), len(w.app_tried),
                         w.incr_ok, w.incr_tried, w.reads, w.errors))
    except Exception as e:  # a broken run is a failed run
        verdict.append("%s: %s" % (type(e).__name__, e))
    finally:
        cl.stop()
        verdict += sanitizer_reports(data)
        print("chaos: in the node logs: %s" % log_counts(data))
        if verdict or a.keep:
            print("chaos: data and node logs kept in %s" % data)
        else:
            shutil.rmtree(data, ignore_errors=True)
    if verdict:
        for v in verdict[:20]:
            print("chaos: " + v)
        print("chaos: FAIL %s (seed %d)" % (verdict[0], seed))
        return 1
    print("chaos: PASS (seed %d)" % seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
