from fastmock._counters import Counters
from fastmock._pacer import Paced, Pacer

MAX_BATCH: int
MEMO_SIZE: int
MEMO_KEY_MAX: int
LINGER_SECONDS: float
REJECT_LINGER_SECONDS: float
HEAD_SLACK: int

class Reject(Exception):
    status: int
    response: bytes
    def __init__(self, status: int, message: str, url: bytes = b"") -> None: ...

class Shared:
    loop: object
    config: object
    access_log: object
    memo: dict
    pacer: Pacer
    counters: Counters
    shutting_down: bool
    busy: bytes
    clock: object
    open_count: int
    max_url_bytes: int
    max_header_bytes: int
    max_headers: int
    max_body_bytes: int
    max_pipelined: int
    max_connections: int
    keepalive_timeout: float
    header_timeout: float
    shutdown_timeout: float
    def __init__(self, loop, config, pacer: Pacer, counters: Counters, access_log=None) -> None: ...
    @property
    def connections(self) -> list[Connection]: ...
    def sweep(self) -> None: ...

class Request:
    method: bytes
    url: bytes
    headers: dict[bytes, bytes] | None
    body: bytes
    keep_alive: bool
    http10: bool
    started: float
    error: bytes | None
    error_status: int

class Memo:
    data: bytes
    route: int
    status: int
    log_line: str | None
    def __init__(self, data: bytes, route: int, status: int, log_line) -> None: ...

class Connection(Paced):
    app: Shared
    transport: object
    parser: object
    def __init__(self, app: Shared) -> None: ...
    def connection_made(self, transport) -> None: ...
    def connection_lost(self, exc) -> None: ...
    def data_received(self, data: bytes) -> None: ...
    def eof_received(self) -> bool | None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...
    def handle(self, request: Request) -> None: ...
    def respond(self, data: bytes, route: int, status: int, keep_alive: bool,
                memo: bool = False) -> None: ...
    def start_stream(self, head: bytes, spec, route: int, keep_alive: bool, chunked: bool,
                     delay_ms: int, ttft_ms: int, fail_after: int) -> None: ...
    def answer_later(self, data: bytes, route: int, status: int, keep_alive: bool,
                     wait_ms: int, cut_at: int) -> None: ...
    def close(self) -> None: ...
    def shutdown(self) -> None: ...
    def end_stream_now(self) -> None: ...
    def check_timeouts(self, now: float) -> None: ...
    @property
    def streaming(self) -> bool: ...
    @property
    def pending(self) -> int: ...
    @property
    def closing(self) -> bool: ...
