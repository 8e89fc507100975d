"""What wire chaos costs a server (issue 18), and that a stream without it costs what it did.

    python bench/chaos_cost.py --baseline /path/to/a/build/of/the/commit/before [--runs 5]
                               [--streams 300] [--tokens 200] [--delay-ms 20]

Each round streams --streams paced ``/stream-sse?max_tokens=--tokens`` streams (HTTP/1.0,
close-delimited) from three servers in turn, in an order that alternates between rounds:

- ``baseline``: the build given by --baseline (a checkout with its extensions built in
  place), a plain stream;
- ``plain``: this tree, the same plain stream;
- ``fragment=3``: this tree, the same stream with ``fragment=3`` (three writes a frame).

The figure is the server's CPU (utime + stime from /proc) per SSE event received, the
median of --runs rounds; each server runs pinned to core 0 and this script to core 1 when
the machine has two (``taskset``), as bench/run.py and bench/fixtures_cost.py do.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import fixtures_cost  # noqa: E402  (its Server, its streams reader and CPU per frame)


class TreeServer(fixtures_cost.Server):
    """fixtures_cost.Server, running the fastmock of ``tree`` (its in-place build)."""

    def __init__(self, tree: Path, *flags: str) -> None:
        self.tree = tree
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(tree)
        try:
            super().__init__(*flags)
        finally:
            if old is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = old


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--streams", type=int, default=300)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--delay-ms", type=int, default=20)
    args = ap.parse_args()
    if shutil.which("taskset") and os.cpu_count() >= 2:
        os.sched_setaffinity(0, {1})
    path = f"/stream-sse?delay_ms={args.delay_ms}&max_tokens={args.tokens}"
    plain = f"GET {path} HTTP/1.0\r\nHost: b\r\n\r\n".encode()
    chaos = f"GET {path}&fragment=3 HTTP/1.0\r\nHost: b\r\n\r\n".encode()
    servers = {"baseline": TreeServer(args.baseline.resolve()), "this tree": TreeServer(ROOT)}
    loads = [("baseline", "baseline", plain), ("plain", "this tree", plain),
             ("fragment=3", "this tree", chaos)]
    figures = {name: [] for name, _, _ in loads}
    try:
        for run in range(args.runs):
            for name, server, raw in loads if run % 2 == 0 else loads[::-1]:
                time.sleep(0.5)
                figures[name].append(fixtures_cost.cpu_per_frame(servers[server], raw, args.streams))
    finally:
        for server in servers.values():
            server.stop()
    cmd = "python bench/chaos_cost.py " + " ".join(sys.argv[1:])
    print(f"{cmd.strip()}")
    print(f"server CPU per frame, {args.streams} streams x {args.tokens} tokens at "
          f"{args.delay_ms} ms, medians of {args.runs} rounds (each round's figures after the |):")
    base = fixtures_cost.median(figures["baseline"])
    for name, values in figures.items():
        med = fixtures_cost.median(values)
        rounds = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:>11}: {med:6.2f} us  ({med / base:.2f}x baseline) | {rounds}")


if __name__ == "__main__":
    main()
