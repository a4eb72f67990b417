"""Python feedparser over a list of feed files, in process: the peer for benches/feeds.rs.

Usage: feeds_peer.py LISTFILE PASSES. Reads every file named in LISTFILE (one path per line) into
memory, then parses them all PASSES times, printing the seconds of each pass on its own line
(reading and interpreter start-up are not timed). Needs `pip install feedparser`."""
import sys, time

import feedparser

paths = [p for p in open(sys.argv[1]).read().splitlines() if p]
docs = [open(p, "rb").read() for p in paths]
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    for d in docs:
        feedparser.parse(d)
    print(f"{time.perf_counter() - t:.6f}", flush=True)
