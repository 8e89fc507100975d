"""Types of fastmock._engine (built from fastmock/engine/*.pyx)."""

# engine/counters.pyx
BOUNDS: tuple[float, ...]
SLOTS: dict[str, int]
LAYOUT: dict[str, int]
VLLM_LAYOUT: dict[str, int]
VLLM_TTFT_BOUNDS: tuple[float, ...]
VLLM_ITL_BOUNDS: tuple[float, ...]
VLLM_E2E_BOUNDS: tuple[float, ...]
VLLM_TOKEN_BOUNDS: tuple[int, ...]
MAX_MODEL_LEN: int
def one_two_five(largest: int) -> tuple[int, ...]: ...

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


# engine/latency.pyx
KINDS: tuple[str, ...]
DEFAULT_MAX_NUM_SEQS: int
def mix(seed: int, n: int) -> int: ...

class Distribution:
    kind: int
    def __init__(self, kind: str, a: float = 0.0, b: float = 0.0,
                 points: tuple[tuple[float, float], ...] = ()) -> None: ...
    def sample(self, seed: int, n: int = 1) -> list[float]: ...

class Gaps:
    def __init__(self, itl: Distribution, slots: Slots, seed: int) -> None: ...
    def total(self, gaps: int) -> float: ...

class Slots:
    max_num_seqs: int
    load_factor: float
    running: int
    waiting: int
    counters: Counters | None
    def __init__(self, max_num_seqs: int = 0, load_factor: float = 0.0) -> None: ...
    def admit(self, stream: object, gaps: Gaps, now_ms: int, ttft_ms: int) -> bool: ...
    def leave(self, stream: object) -> object | None: ...

# engine/ids.pyx
ID_HEADER_HEAD: bytes
FRESH_ID_KIND: bytes
def id_redraw(prefix: bytes) -> None: ...
def id_next() -> int: ...
def id_new(kind: bytes) -> bytes: ...
def with_fresh_id(data: bytes) -> bytes: ...

# engine/memo.pyx
MEMO_SIZE: int
MEMO_KEY_MAX: int

class Memo:
    data: bytes
    route: int
    status: int
    log_line: str | None
    id_at: int
    def __init__(self, data: bytes, route: int, status: int, log_line,
                 id_at: int = -1) -> None: ...
    def __len__(self) -> int: ...

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
    keep_api_keys: bool
    slots: Slots | None
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
                     delay_ms: int, ttft_ms: int, fail_after: int,
                     gaps: Gaps | None = None, prompt_tokens: int = 0) -> None: ...
    def answer_later(self, data: bytes, route: int, status: int, keep_alive: bool,
                     wait_ms: int, cut_at: int) -> None: ...
    def count_whole(self, prompt_tokens: int, tokens: int, length: bool, cut: bool,
                    wait_ms: int) -> None: ...
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
                memo: bool = False, fresh_id: bool = False) -> None: ...
