"""Command line -> Config: flags, then FASTMOCK_* environment variables, then defaults.

No logic beyond turning words into settings; a bad one exits 2 with one line.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from fastmock import __version__
from fastmock.config import Config

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, not usage plus error
        self.exit(2, f"fastmock: error: {message}\n")


def _whole(low: int, high: int | None = None):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range (must be {bound})")
        return value
    convert.__name__ = "whole number"
    return convert


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{value} is out of range (must be from 0 to 86400)")
    return value


def _text_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc}") from None
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{path} has no text to stream")
    return path


def _log_level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(LOG_LEVELS)}")
    return text.lower()


LOG_FORMATS = ("clf", "json")


def _log_format(text: str) -> str:
    if text.lower() not in LOG_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(LOG_FORMATS)}")
    return text.lower()


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (use 1/0, true/false)")


# flag, Config field, converter, help
OPTIONS = (
    ("--host", "host", str, "address to listen on (default 0.0.0.0)"),
    ("--port", "port", _whole(0, 65535), "TCP port (default 3000; PORT is honoured too)"),
    ("--workers", "workers", _whole(0, 1024), "processes sharing the port; 0 = one per core (default 1)"),
    ("--delay-ms", "delay_ms", _whole(0, 3_600_000), "default milliseconds between tokens (default 50)"),
    ("--ttft-ms", "ttft_ms", _whole(0, 3_600_000), "default milliseconds before the first token (default 0)"),
    ("--text-file", "text_file", _text_file, "UTF-8 text to stream instead of the built-in corpus"),
    ("--model", "model", str, "model name reported by every endpoint"),
    ("--log-level", "log_level", _log_level, "critical, error, warning, info or debug (default info)"),
    ("--shutdown-timeout", "shutdown_timeout", _seconds,
     "seconds running streams get to finish on SIGTERM/SIGINT (default 5)"),
    ("--keepalive-timeout", "keepalive_timeout", _seconds, "idle keep-alive connections close after this (default 5)"),
    ("--header-timeout", "header_timeout", _seconds, "a request head or body must arrive within this (default 10)"),
    ("--max-body-bytes", "max_body_bytes", _whole(0), "largest request body accepted (default 1048576)"),
    ("--max-connections", "max_connections", _whole(0),
     "open connections per process; beyond it a new connection gets 503 and is closed "
     "(default 0 = no limit)"),
    ("--log-format", "log_format", _log_format,
     "access log lines: clf (Common Log Format) or json (one JSON object a line; default clf)"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastmock",
        description="A tiny, very fast HTTP server that pretends to be a large language model.",
        epilog="Every flag can also be set as FASTMOCK_<FLAG> in the environment "
               "(e.g. FASTMOCK_DELAY_MS=20); flags win over the environment.")
    for flag, dest, convert, text in OPTIONS:
        parser.add_argument(flag, dest=dest, type=convert, help=text)
    parser.add_argument("--access-log", dest="access_log", action="store_const", const=True,
                        help="log one line per request to stdout (see --log-format)")
    parser.add_argument("--version", action="version", version=f"fastmock {__version__}")
    return parser


def parse_config(argv: list[str] | None = None, environ=os.environ) -> Config:
    """Config from the command line and the environment; exits 2 on a bad value."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = {}
    env_options = OPTIONS + (("--access-log", "access_log", _bool, ""),)
    for flag, dest, convert, _ in env_options:
        value = getattr(args, dest)
        if value is None:
            name = "FASTMOCK_" + dest.upper()
            raw = environ.get(name)
            if raw is None and dest == "port":
                name, raw = "PORT", environ.get("PORT")
            if raw is None:
                continue
            try:
                value = convert(raw)
            except argparse.ArgumentTypeError as exc:
                parser.error(f"{name}: {exc}")
        settings[dest] = value
    return Config(**settings)


def main(argv: list[str] | None = None) -> int:
    config = parse_config(argv)
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s fastmock: %(message)s")
    try:
        from fastmock.server import run  # after parsing: --help and --version stay instant
    except ImportError as exc:
        print(f"fastmock: {exc}", file=sys.stderr)
        return 1
    return run(config)
