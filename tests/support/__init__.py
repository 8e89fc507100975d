"""What the tests import (plain helpers; the fixtures that use them are in the conftest.py files).

- ``support.http``: requests to send and the one strict response reader (sockets and bytes).
- ``support.streams``: SSE events, NDJSON lines and chat chunks inside a body.
- ``support.server``: ``LiveServer`` (a fastmock subprocess), /proc readers, ``wait_for``.
- ``support.fakes``: the manual-clock loop, the mock transport and a connected ``Client``.
- ``support.fake_cgroups``: a fake /proc/self and cgroup tree for ``fastmock.cgroup``.
- ``support.apis``: what the provider-API and SDK tests share (corpus, hostile strings, ``post``,
  the SDK clients a test opened).
- ``support.scripted``: the fixture files the scripted-answer tests load.
- ``support.supervisor_script``: a supervisor script with stand-in workers, in its own process.
- ``support.cgroups``: real cgroups with CPU and memory limits (tests and bench/).
- ``support.container``: the compose limits and scripts/container-equivalent.
- ``support.probe``, ``support.wrk``: up-probes and the load generator (tests and bench/).
"""
