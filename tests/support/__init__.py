"""What the tests import (plain helpers; the fixtures that use them are in the conftest.py files).

- ``support.http``: requests to send and the one strict response reader (sockets and bytes).
- ``support.streams``: SSE events, NDJSON lines and chat chunks inside a body.
- ``support.server``: ``LiveServer`` (a fastmock subprocess), /proc readers, ``wait_for``.
- ``support.fakes``: the manual-clock loop, the mock transport and a connected ``Client``.
- ``support.apis``: what the provider-API and SDK tests share (corpus, hostile strings, ``post``).
"""
