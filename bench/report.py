#!/usr/bin/env python3
"""Render bench/run.py's results.json as Markdown and a PNG chart.

    python3 bench/report.py [bench/results/results.json]   # rewrites results.md / results.png beside it
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import report  # noqa: E402  (bench/lib/report.py)

if __name__ == "__main__":
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "results.json")
    with open(src) as f:
        doc = json.load(f)
    out = os.path.dirname(os.path.abspath(src))
    print(report.write_markdown(doc, os.path.join(out, "results.md")))
    if report.ensure_matplotlib(install=False):
        print(report.write_chart(doc, os.path.join(out, "results.png")))
