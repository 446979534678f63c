#!/usr/bin/env python3
"""Prints a base port B such that B..B+2 (client ports) and B+10000..B+10002
(their cluster-bus ports) are all free on 127.0.0.1, for a local 3-node
cluster. Used by tests/layers/50-cluster.sh and tests/bench/bench_cluster.sh.
Exits 1 after 200 tries without one."""
import random
import socket
import sys

for _ in range(200):
    b = random.randrange(20000, 29990)
    socks = []
    try:
        for p in (b, b + 1, b + 2, b + 10000, b + 10001, b + 10002):
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
