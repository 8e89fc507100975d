"""Command line -> Config: flags, then FASTMOCK_* environment variables, then defaults.

No logic beyond turning words into settings; a bad one exits 2 with one line.
The parser is a small one of its own: argparse (and the gettext and shutil it
imports, which bring bz2 and lzma) costs ~0.9 MB of resident memory, and the
whole server has to fit in 20 MB.
"""
import logging
import os
import sys

from fastmock import __version__
from fastmock.config import Config

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
PROG = "fastmock"
DESCRIPTION = "A tiny, very fast HTTP server that pretends to be a large language model."
EPILOG = ("Every flag can also be set as FASTMOCK_<FLAG> in the environment "
          "(e.g. FASTMOCK_DELAY_MS=20); flags win over the environment.")


class UsageError(ValueError):
    """A flag or value that cannot be used; the message names it."""


def _whole(low: int, high: int | None = None):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise UsageError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise UsageError(f"{value} is out of range (must be {bound})")
        return value
    return convert


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86400:
        raise UsageError(f"{value} is out of range (must be from 0 to 86400)")
    return value


def _read_by(module: str, function: str):
    """A converter that imports ``module`` only when its flag is given (a server without
    the flag never loads it) and reads the value with its ``function``; the ValueError
    that raises is the flag's usage error."""
    def convert(text: str):
        read = getattr(__import__(module, fromlist=[function]), function)
        try:
            return read(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return convert


def _number(low: float, high: float):
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise UsageError(f"{value} is out of range (must be from {low:g} to {high:g})")
        return value
    return convert


def _log_level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise UsageError(f"{text!r} is not one of {', '.join(LOG_LEVELS)}")
    return text.lower()


LOG_FORMATS = ("clf", "json")
METRICS_FORMATS = ("fastmock", "vllm", "both")


def _log_format(text: str) -> str:
    if text.lower() not in LOG_FORMATS:
        raise UsageError(f"{text!r} is not one of {', '.join(LOG_FORMATS)}")
    return text.lower()


def _metrics_format(text: str) -> str:
    if text.lower() not in METRICS_FORMATS:
        raise UsageError(f"{text!r} is not one of {', '.join(METRICS_FORMATS)}")
    return text.lower()


def _text(text: str) -> str:
    return text


def _paths(text: str) -> tuple:
    """--fixtures (repeatable: each adds) or FASTMOCK_FIXTURES (paths joined by os.pathsep)."""
    paths = tuple(p for p in text.split(os.pathsep) if p)
    if not paths:
        raise UsageError("expected a file or directory")
    return paths


def _names(text: str) -> tuple:
    """--served-model-name (repeatable, each comma-separated) or FASTMOCK_SERVED_MODEL_NAME."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise UsageError("expected one or more model names, separated by commas")
    return names


def _reasoning_field(text: str) -> str:
    if text not in ("reasoning_content", "reasoning"):
        raise UsageError(f"{text!r} is not reasoning_content or reasoning")
    return text


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{text!r} is not a boolean (use 1/0, true/false)")


# The largest size or count a limit flag takes: beyond any real use, and small enough
# for the engine's C integers.
LARGEST = 1 << 30

# flag, Config field, converter, help
OPTIONS = (
    ("--host", "host", _text, "address to listen on (default 0.0.0.0)"),
    ("--port", "port", _whole(0, 65535), "TCP port (default 3000; PORT is honoured too)"),
    ("--workers", "workers", _whole(0, 1024), "processes sharing the port; 0 = one per CPU the cgroup quota allows (default 1)"),
    ("--delay-ms", "delay_ms", _whole(0, 3_600_000), "default milliseconds between tokens (default 50)"),
    ("--ttft-ms", "ttft_ms", _whole(0, 3_600_000), "default milliseconds before the first token (default 0)"),
    ("--text-file", "text_file", _read_by("fastmock.textfile", "read_text_file"), "UTF-8 text to stream instead of the built-in corpus"),
    ("--model", "model", _text, "model name reported by every endpoint"),
    ("--served-model-name", "served_model_name", _names,
     "models GET /v1/models and /api/tags list, as vLLM's flag (repeatable or comma-separated; "
     "the first is the default --model)"),
    ("--log-level", "log_level", _log_level, "critical, error, warning, info or debug (default info)"),
    ("--shutdown-timeout", "shutdown_timeout", _seconds,
     "seconds running streams get to finish on SIGTERM/SIGINT (default 5)"),
    ("--keepalive-timeout", "keepalive_timeout", _seconds, "idle keep-alive connections close after this (default 5)"),
    ("--header-timeout", "header_timeout", _seconds, "a request head or body must arrive within this (default 10)"),
    ("--max-body-bytes", "max_body_bytes", _whole(0, LARGEST), "largest request body accepted (default 1048576)"),
    ("--max-url-bytes", "max_url_bytes", _whole(1, LARGEST),
     "longest request target; a longer one gets 414 (default 8190)"),
    ("--max-header-bytes", "max_header_bytes", _whole(1, LARGEST),
     "all header lines of a request together; more gets 431 (default 16384)"),
    ("--max-headers", "max_headers", _whole(1, 65535), "header lines per request; more gets 431 (default 100)"),
    ("--max-pipelined", "max_pipelined", _whole(1, 65535),
     "requests read ahead behind a running stream before reading pauses (default 16)"),
    ("--max-connections", "max_connections", _whole(0, LARGEST),
     "open connections per process; beyond it a new connection gets 503 and is closed "
     "(0 = no limit; default: what fits under the memory limit, or no limit)"),
    ("--memory-high", "memory_high", _number(0, 1),
     "fraction of the container's memory limit above which new connections get 503 "
     "(default 0.9; 0 = never)"),
    ("--backlog", "backlog", _whole(1, 65535),
     "connections the kernel queues until they are accepted (default 4096; "
     "the kernel caps it at net.core.somaxconn)"),
    ("--journal-size", "journal_size", _whole(0, 1_000_000),
     "requests kept for GET /__fastmock/journal, per process (default 1000; 0 = off)"),
    ("--log-format", "log_format", _log_format,
     "access log lines: clf (Common Log Format) or json (one JSON object a line; default clf)"),
    ("--metrics-format", "metrics_format", _metrics_format,
     "the families /metrics serves: fastmock, vllm (vLLM's names, types and buckets) or "
     "both (default both)"),
    ("--fixtures", "fixtures", _paths,
     "scripted answers: an aimock fixture file or a directory of them (repeatable)"),
    ("--reasoning-field", "reasoning_field", _reasoning_field,
     "OpenAI chat's reasoning delta field: reasoning_content (default) or reasoning (vLLM)"),
    ("--seed", "seed", _whole(0, (1 << 63) - 1), "seed of every random draw, so a run repeats"),
    ("--ttft", "ttft", _read_by("fastmock.latency", "parse"),
     "time to first token as a distribution, e.g. lognormal:median=250ms,p99=900ms "
     "(constant:, uniform:min=,max=, normal:mean=,stddev=, lognormal:median=,p99=, "
     "empirical:p50=,p90=,p99=; ms or s); replaces --ttft-ms"),
    ("--itl", "itl", _read_by("fastmock.latency", "parse"),
     "inter-token latency as a distribution (same syntax); replaces --delay-ms"),
    ("--latency-profile", "latency_profile", _read_by("fastmock.latency", "load_profiles"),
     'per-model latencies: a JSON file {"models": {"<glob>": {"ttft", "itl", '
     '"prefill_ms_per_1k_tokens", "tokens_per_second"}}}, first glob that matches wins'),
    ("--max-num-seqs", "max_num_seqs", _whole(1, LARGEST),
     "streams generating at once per process; the rest wait (their wait is part of their TTFT)"),
    ("--itl-load-factor", "itl_load_factor", _number(0, 1000),
     "K: the inter-token latency is stretched x (1 + K x running / max-num-seqs (or 256))"),
    ("--rate-limit", "rate_limit", _read_by("fastmock.ratelimit", "parse"),
     "provider rate limits per API key, e.g. requests=600/min,tokens=90000/min (also "
     "input_tokens, output_tokens; periods s, min, h, day): 429 with Retry-After when spent"),
    ("--chaos", "chaos", _read_by("fastmock.chaos.settings", "parse_odds"),
     "wire chaos drawn once per stream, e.g. fragment=0.1,reset=0.01 (conditions: fragment, "
     "coalesce, keepalive, stall, crlf, duplicate, drop_done, malformed, close, reset, "
     "truncate, trickle); seeded by --seed"),
)
# Flags that add to what they were given before instead of replacing it.
REPEATABLE = frozenset(("fixtures", "served_model_name"))


# flag, Config field, help: switches, which take no value on the command line
SWITCHES = (
    ("--access-log", "access_log", "log one line per request to stdout (see --log-format)"),
    ("--strict", "strict", "with --fixtures: a request no fixture matches gets 404, not the corpus"),
    ("--completions-finish-on-last-token", "completions_finish_on_last_token",
     "/v1/completions streams put the finish reason on the last token's chunk and send no "
     "empty closing chunk, as vLLM does"),
)
_BY_FLAG = {flag: (dest, convert) for flag, dest, convert, _ in OPTIONS}
_BY_FLAG.update({flag: (dest, None) for flag, dest, _ in SWITCHES})


def usage() -> str:
    """The --help text."""
    lines = [f"usage: {PROG} [options]", f"       {PROG} tokenizer DIR [--text-file FILE]", "",
             DESCRIPTION, "", "commands:",
             "  tokenizer DIR         write a Hugging Face tokenizer that counts tokens as fastmock",
             "                        does (see fastmock tokenizer --help)", "", "options:",
             "  -h, --help            show this help message and exit"]
    entries = [(f"{flag} {dest.upper()}", text) for flag, dest, _, text in OPTIONS]
    entries += [(flag, text) for flag, _, text in SWITCHES]
    entries.append(("--version", "show the version and exit"))
    for left, text in entries:
        if len(left) <= 20:
            lines.append(f"  {left:<20}  {text}")
        else:
            lines += [f"  {left}", f"  {'':<20}  {text}"]
    return "\n".join(lines + ["", EPILOG, ""])


def parse_args(argv: list[str]) -> dict:
    """Settings given on the command line; raises UsageError. --help and --version exit."""
    settings = {}
    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help"):
            sys.stdout.write(usage())
            raise SystemExit(0)
        if arg == "--version":
            sys.stdout.write(f"{PROG} {__version__}\n")
            raise SystemExit(0)
        flag, has_value, value = arg.partition("=")
        if flag not in _BY_FLAG:
            raise UsageError(f"unrecognized argument: {arg}")
        dest, convert = _BY_FLAG[flag]
        if convert is None:
            if has_value:
                raise UsageError(f"argument {flag}: takes no value")
            settings[dest] = True
            continue
        if not has_value:
            value = next(args, None)
            if value is None:
                raise UsageError(f"argument {flag}: expected a value")
        try:
            converted = convert(value)
        except UsageError as exc:
            raise UsageError(f"argument {flag}: {exc}") from None
        settings[dest] = settings.get(dest, ()) + converted if dest in REPEATABLE else converted
    return settings


def _fail(message: str):
    sys.stderr.write(f"{PROG}: error: {message}\n")
    raise SystemExit(2)


def parse_config(argv: list[str] | None = None, environ=os.environ) -> Config:
    """Config from the command line and the environment; exits 2 on a bad value."""
    try:
        settings = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        _fail(str(exc))
    every = [(dest, convert) for _, dest, convert, _ in OPTIONS]
    every += [(dest, _bool) for _, dest, _ in SWITCHES]
    for dest, convert in every:
        if dest in settings:
            continue
        name = "FASTMOCK_" + dest.upper()
        raw = environ.get(name)
        if raw is None and dest == "port":
            name, raw = "PORT", environ.get("PORT")
        if raw is None:
            continue
        try:
            settings[dest] = convert(raw)
        except UsageError as exc:
            _fail(f"{name}: {exc}")
    config = Config(**settings)
    if config.text_file is not None:
        _check_text_fits(config)
    return config


def _check_text_fits(config: Config) -> None:
    """A corpus that would leave no room under the container's memory limit: exit 2."""
    from fastmock import cgroup
    from fastmock.textfile import too_big_for
    limit = cgroup.memory_limit()
    if limit is None:
        return
    why = too_big_for(config.text_file.text, limit, config.memory_high)
    if why:
        _fail(f"argument --text-file: {config.text_file} does not fit: {why}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["tokenizer"]:  # a sub-command, not a flag: the server never loads it
        from fastmock.hftokenizer import main as tokenizer
        return tokenizer(args[1:])
    config = parse_config(args)
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s fastmock: %(message)s")
    from fastmock import nossl
    nossl.install()    # before asyncio loads: the server never speaks TLS (1.2 MiB less)
    try:
        from fastmock.launch import launch  # after parsing: --help and --version stay instant
    except ImportError as exc:
        if (exc.name or "").startswith("fastmock._"):  # never a silent pure-Python fallback
            print(f"fastmock: the compiled extension {exc.name} is missing or broken ({exc}); "
                  "reinstall fastmock with a C compiler available: pip install .", file=sys.stderr)
        else:
            print(f"fastmock: {exc}", file=sys.stderr)
        return 1
    return launch(config)
