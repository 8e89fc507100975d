"""A stand-in for the ssl module in a server process, which never speaks TLS.

asyncio and uvloop import ssl as they load, for TLS transports fastmock never makes.
The real module costs 1.2 MiB of anonymous memory (OpenSSL's initialisation and ssl's
enum tables): ~400 open streams of the 20 MiB container. The stand-in holds what they
read at import (error classes and three error codes). Any other name loads the real
module and answers from it, so a newer asyncio or uvloop that reads more still works,
and pays the 1.2 MiB.
"""
import importlib
import sys
import types

WANT_READ, WANT_WRITE, SYSCALL = 2, 3, 5   # OpenSSL's SSL_ERROR_* codes, as ssl has them


class SSLError(OSError):
    pass


class SSLZeroReturnError(SSLError):
    pass


class SSLWantReadError(SSLError):
    pass


class SSLSyscallError(SSLError):
    pass


class CertificateError(ValueError):
    pass


class _Unused:
    """A TLS type no plain-HTTP server makes: nothing is ever an instance of it."""

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError("fastmock serves plain HTTP: TLS is not available in the server")


class SSLContext(_Unused):
    pass


class MemoryBIO(_Unused):
    pass


def create_default_context(*args, **kwargs):
    return SSLContext()


class _StandIn(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_ssl(), name)


def _real_ssl() -> types.ModuleType:
    module = sys.modules.get("ssl")
    if module is None or isinstance(module, _StandIn):
        sys.modules.pop("ssl", None)
        module = importlib.import_module("ssl")
    return module


def install() -> bool:
    """Put the stand-in in place, unless asyncio or ssl is already loaded: True if it is."""
    if any(name in sys.modules for name in ("ssl", "asyncio", "uvloop")):
        return False
    stand_in = _StandIn("ssl", __doc__)
    for cls in (SSLError, SSLZeroReturnError, SSLWantReadError, SSLSyscallError,
                CertificateError, SSLContext, MemoryBIO):
        setattr(stand_in, cls.__name__, cls)
    stand_in.create_default_context = create_default_context
    stand_in.SSL_ERROR_WANT_READ = WANT_READ
    stand_in.SSL_ERROR_WANT_WRITE = WANT_WRITE
    stand_in.SSL_ERROR_SYSCALL = SYSCALL
    sys.modules["ssl"] = stand_in
    return True
