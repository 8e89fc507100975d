"""fastmock's benchmark library; bench/run.py is its command.

  log.py        the runner's progress lines
  procfs.py     /proc: a process tree's CPU and memory, the cores' use, waiting for quiet
  servers.py    a server under test: started pinned (in a cgroup when asked), probed, stopped
  tools.py      the load generators: wrk and bench/streamload, found or installed, run, read
  seed.py       the phases on the seed endpoints: startup, wrk, stream, hold
  limits.py     the limits phase: the server in 0.1 CPU / 20 MB cgroups
  providers.py  the provider phases: provider, short_stream, embeddings, provider_frames
  post.lua      the wrk script of the provider phases: POST a fresh or a repeated body
  aimock.py     aimock, the optional baseline of the provider phases (--aimock)
  results.py    medians, per-round ratios, the machine's facts, the log's summary lines
  report.py     results.md and results.png
"""
import os
import sys

# The cgroup, wrk and HTTP helpers have one home, shared with the tests: the repository's
# tests/support/ package. Putting tests/ on the path makes `from support import ...` work
# here (pytest puts tests/ on it for the tests, whose conftest.py sits there).
TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
