"""Types of fastmock._engine (built from fastmock/engine/*.pyx)."""

# engine/counters.pyx
BOUNDS: tuple[float, ...]
SLOTS: dict[str, int]
LAYOUT: dict[str, int]

class Counters:
    rows: int
    row: int
    def __init__(self, rows: int = 1) -> None: ...
    def select(self, row: int) -> None: ...
    def reset_gauges(self, row: int) -> None: ...
    def add_py(self, slot: int, n: int = 1) -> None: ...
    def count_request_py(self, route: int, status: int) -> None: ...
    def observe_py(self, kind: str, route: int, seconds: float) -> None: ...
    def value(self, slot: int) -> int: ...
    def values(self, start: int, count: int) -> list[int]: ...


# engine/pacer.pyx
class Paced:
    @property
    def slot(self) -> int: ...

class Waiter(Paced):
    """A Paced item whose due(now_ms) and fail(exc) are Python methods."""

class Pacer:
    def __init__(self, loop, tick_ms: int = 1) -> None: ...
    @property
    def loop(self): ...
    def now_ms(self) -> int: ...
    def __len__(self) -> int: ...
    def schedule(self, item: Paced, due_ms: int) -> None: ...
    def unschedule(self, item: Paced) -> None: ...
    def close(self) -> None: ...
    def stamp_now(self) -> bytes: ...


# engine/memo.pyx
MEMO_SIZE: int
MEMO_KEY_MAX: int

class Memo:
    data: bytes
    route: int
    status: int
    log_line: str | None
    def __init__(self, data: bytes, route: int, status: int, log_line) -> None: ...

class RequestMemo:
    size: int
    key_max: int
    def __init__(self, size: int = ..., key_max: int = ...) -> None: ...
    def __len__(self) -> int: ...
    def __contains__(self, data: bytes) -> bool: ...
    def get(self, data: bytes) -> Memo | None: ...
    def clear(self) -> None: ...


# engine/shared.pyx
class Shared:
    loop: object
    config: object
    access_log: object
    answers: object   # fastmock.canned.CannedAnswers
    fast_path: object  # None, or (connection, data) -> bool (fastmock._fastpath.FastPath)
    memo: RequestMemo
    pacer: Pacer
    counters: Counters
    shutting_down: bool
    clock: object
    open_count: int
    max_url_bytes: int
    max_header_bytes: int
    max_headers: int
    max_body_bytes: int
    max_pipelined: int
    keepalive_timeout: float
    header_timeout: float
    shutdown_timeout: float
    def __init__(self, loop, config, pacer: Pacer, counters: Counters, answers,
                 access_log=None) -> None: ...
    @property
    def connections(self) -> list[Connection]: ...
    def sweep(self) -> None: ...


# engine/request.pyx
class Reject(Exception):
    status: int
    message: str
    url: bytes
    def __init__(self, status: int, message: str, url: bytes = b"") -> None: ...

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

class AccessContext:
    peer: object
    line: str
    def __init__(self, peer) -> None: ...


# engine/link.pyx
LINGER_SECONDS: float
SEND_TIMEOUT: float

class Link(Paced):
    app: Shared
    transport: object
    def close(self) -> None: ...
    def shutdown(self) -> None: ...
    def check_timeouts(self, now: float) -> None: ...
    @property
    def streaming(self) -> bool: ...
    @property
    def pending(self) -> int: ...
    @property
    def closing(self) -> bool: ...
    @property
    def state(self) -> frozenset[str]: ...


# engine/compose.pyx
class Pieces: ...

class Composer(Link): ...


# engine/stream.pyx
MAX_BATCH: int

class Streamer(Composer):
    def start_stream(self, head: bytes, spec, route: int, keep_alive: bool, chunked: bool,
                     delay_ms: int, ttft_ms: int, fail_after: int) -> None: ...
    def answer_later(self, data: bytes, route: int, status: int, keep_alive: bool,
                     wait_ms: int, cut_at: int) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...
    def end_stream_now(self) -> None: ...


# engine/connection.pyx
HEAD_SLACK: int
WRITE_HIGH_WATER: int

class Connection(Streamer):
    parser: object
    def __init__(self, app: Shared, fd: int = -1) -> None: ...
    def connection_made(self, transport) -> None: ...
    def connection_lost(self, exc) -> None: ...
    def data_received(self, data: bytes) -> None: ...
    def eof_received(self) -> bool | None: ...
    def handle(self, request: Request) -> None: ...
    def respond(self, data: bytes, route: int, status: int, keep_alive: bool,
                memo: bool = False) -> None: ...
