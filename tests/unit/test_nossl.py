"""The server process runs on a stand-in for the ssl module (fastmock.nossl): asyncio and
uvloop load without OpenSSL, and anything that asks for more than they read at import
gets the real module."""
from __future__ import annotations

import subprocess
import sys

import pytest


def run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_uvloop_and_asyncio_load_on_the_stand_in_without_openssl():
    words = run("""
import sys
from fastmock import nossl
print(nossl.install())
import asyncio, uvloop
loop = uvloop.new_event_loop()
print(type(sys.modules["ssl"]).__name__, "_ssl" in sys.modules)
loop.close()
""")
    assert words == ["True", "_StandIn", "False"]


def test_a_name_the_stand_in_lacks_loads_the_real_module_once():
    words = run("""
import sys
from fastmock import nossl
nossl.install()
import asyncio.sslproto
stand_in = sys.modules["ssl"]
print(stand_in.PROTOCOL_TLS_CLIENT == 16, "_ssl" in sys.modules)
real = sys.modules["ssl"]
print(real is not stand_in, stand_in.OP_NO_COMPRESSION == real.OP_NO_COMPRESSION, sys.modules["ssl"] is real)
import ssl
print(ssl is real, ssl.create_default_context().__class__.__name__)
""")
    assert words == ["True", "True", "True", "True", "True", "True", "SSLContext"]


def test_it_is_not_installed_once_asyncio_or_ssl_is_loaded():
    assert run("import asyncio\nfrom fastmock import nossl\nprint(nossl.install())") == ["False"]
    assert run("import ssl\nfrom fastmock import nossl\nprint(nossl.install())") == ["False"]


def test_a_tls_context_from_the_stand_in_says_why_it_cannot_be():
    from fastmock import nossl
    with pytest.raises(RuntimeError, match="plain HTTP"):
        nossl.create_default_context()
    assert issubclass(nossl.SSLWantReadError, nossl.SSLError)
    assert issubclass(nossl.SSLError, OSError)

