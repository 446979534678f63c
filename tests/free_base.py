#!/usr/bin/env python3
"""Prints a base port B such that B..B+N-1 (client ports) and
B+10000..B+10000+N-1 (their cluster-bus ports) are all free on 127.0.0.1,
for a local cluster of N nodes (the first argument, 3 by default). Used by
tests/layers/50-cluster.sh, tests/bench/bench_cluster.sh and
tests/chaos/chaos.py. Exits 1 after 200 tries without one."""
import random
import socket
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
for _ in range(200):
    b = random.randrange(20000, 29990)
    socks = []
    try:
        for p in [b + i for i in range(n)] + [b + 10000 + i for i in range(n)]:
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(b)
    sys.exit(0)
sys.exit(1)
