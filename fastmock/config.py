"""Every setting of a fastmock process, with safe defaults, in one frozen object."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    # where to listen
    host: str = "0.0.0.0"
    port: int = 3000
    workers: int = 1                 # processes sharing the port; 0 = one per core
    backlog: int = 4096

    # what to stream
    delay_ms: int = 50               # default gap between tokens
    ttft_ms: int = 0                 # default wait before the first token
    text_file: str | None = None     # corpus to stream instead of the built-in text
    model: str | None = None         # model name reported everywhere; None = per-API default

    # logging
    log_level: str = "info"
    access_log: bool = False
    log_format: str = "clf"          # access log lines: "clf" (Common Log Format) or "json"

    # timeouts, in seconds
    shutdown_timeout: float = 5.0    # grace for running streams on SIGTERM/SIGINT
    keepalive_timeout: float = 5.0   # idle keep-alive connections are closed after this
    header_timeout: float = 10.0     # a request whose head or body never finishes is cut

    # limits on what a client may send (aiohttp's and uvicorn's proven defaults)
    max_url_bytes: int = 8190
    max_header_bytes: int = 16384    # request line excluded, all header lines together
    max_headers: int = 100
    max_body_bytes: int = 1 << 20
    max_pipelined: int = 16          # parsed requests waiting behind a stream before reading pauses
    max_connections: int = 0         # per process; beyond it a new connection gets 503; 0 = no limit

    # pacing
    tick_ms: int = 1                 # granularity of the shared stream timer
