"""Every setting of a fastmock process, with safe defaults, in one frozen object.

A plain class rather than a dataclass: ``dataclasses`` costs ~0.2 MB of resident
memory, and the whole server must fit in 20 MB.
"""
DEFAULTS = {
    # where to listen
    "host": "0.0.0.0",
    "port": 3000,
    "workers": 1,                  # processes sharing the port; 0 = one per CPU (cgroup quota)
    "backlog": 4096,
    # what to stream
    "delay_ms": 50,                # default gap between tokens
    "ttft_ms": 0,                  # default wait before the first token
    "text_file": None,             # corpus to stream instead of the built-in text
    "model": None,                 # model name reported everywhere; None = per-API default
    "served_model_name": (),       # the models GET /v1/models lists (vLLM's flag); () = model
    # logging
    "log_level": "info",
    "access_log": False,
    "log_format": "clf",           # access log lines: "clf" (Common Log Format) or "json"
    # timeouts, in seconds
    "shutdown_timeout": 5.0,       # grace for running streams on SIGTERM/SIGINT
    "keepalive_timeout": 5.0,      # idle keep-alive connections are closed after this
    "header_timeout": 10.0,        # a request whose head or body never finishes is cut
    # limits on what a client may send (aiohttp's and uvicorn's proven defaults)
    "max_url_bytes": 8190,
    "max_header_bytes": 16384,     # request line excluded, all header lines together
    "max_headers": 100,
    "max_body_bytes": 1 << 20,
    "max_pipelined": 16,           # parsed requests waiting behind a stream before reading pauses
    "max_connections": None,       # per process; beyond it a new connection gets 503; 0 = no limit;
                                   # None = what fits under the memory limit (fastmock.admission)
    "memory_high": 0.9,            # fraction of the memory limit above which new connections get 503
    # the control API's request journal: entries kept per process; 0 = off
    "journal_size": 1000,
    # pacing
    "tick_ms": 1,                  # granularity of the shared stream timer
    "seed": None,                  # seeds every random draw (fixture jitter) so a run repeats
    # scripted answers (fastmock.fixtures, loaded only when fixtures are given)
    "fixtures": (),                # fixture files or directories, in order
    "strict": False,               # a request no fixture matches gets 404, not the corpus
    "reasoning_field": "reasoning_content",   # OpenAI chat's reasoning delta field
    # provider rate limits per API key (fastmock.ratelimit.parse's Limits); None = none
    "rate_limit": None,
    # latency models (fastmock.latency): distributions of the time to first token and the
    # inter-token gap, per-model profiles, generation slots and the load's stretch
    "ttft": None,                  # a Distribution; None = --ttft-ms
    "itl": None,                   # a Distribution; None = --delay-ms
    "latency_profile": None,       # Profiles, in file order
    "max_num_seqs": None,          # streams generating at once per process; None = no limit
    "itl_load_factor": None,       # K in itl x (1 + K x running / max_num_seqs)
    # /v1/completions streams framed as vLLM frames them: the finish reason on the last
    # token's chunk, no empty closing chunk (vLLM's benchmark client counts that one)
    "completions_finish_on_last_token": False,
    # wire chaos odds per stream, ((condition, probability), ...) (fastmock.chaos.settings)
    "chaos": None,
    # the families /metrics serves: "fastmock", "vllm" (vLLM's names) or "both"
    "metrics_format": "both",
}


class Config:
    __slots__ = tuple(DEFAULTS)

    def __init__(self, **settings) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name, default in DEFAULTS.items():
            object.__setattr__(self, name, settings.get(name, default))

    def __setattr__(self, name, value):
        raise AttributeError("Config is frozen; use replace()")

    def replace(self, **changes) -> "Config":
        return Config(**{**self.as_dict(), **changes})

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in DEFAULTS}

    def __eq__(self, other) -> bool:
        return isinstance(other, Config) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return "Config(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"
