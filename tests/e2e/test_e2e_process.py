"""The process: CLI flags and environment, start-up line, signals, workers, corpus and model."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import fastmock
from support.http import get, http_request, read_response
from support.server import LiveServer, children, replaced, wait_for
from support.streams import chat_deltas, chat_text

pytestmark = pytest.mark.e2e


def run_cli(*args: str, env: dict | None = None, timeout: float = 15) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastmock", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_the_compiled_extension_is_the_one_loaded():
    import importlib.machinery

    from fastmock import _chunks, frames

    assert _chunks.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    assert frames.EXTENSION_FILE == _chunks.__file__


def test_without_the_extension_the_server_refuses_to_start(tmp_path):
    """A copy of the package with no compiled module must fail loudly, not fall back."""
    package = tmp_path / "fastmock"
    package.mkdir()
    source = os.path.dirname(fastmock.__file__)
    for name in os.listdir(source):
        if name.endswith(".py"):
            shutil.copy(os.path.join(source, name), package / name)
    # An editable install maps "fastmock" to the source tree with a meta-path finder: drop it,
    # so that the copy (first on sys.path) is what gets imported.
    launcher = (
        "import runpy, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "sys.argv = ['fastmock', '--host', '127.0.0.1', '--port', '0']\n"
        "runpy.run_module('fastmock', run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", launcher], cwd=tmp_path,
                            capture_output=True, text=True, timeout=15)
    assert result.returncode == 1
    assert "compiled extension fastmock._" in result.stderr and "is missing" in result.stderr
    assert "pip install ." in result.stderr and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_version_and_help():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fastmock {fastmock.__version__}"
    help_text = run_cli("--help").stdout
    for flag in ("--host", "--port", "--workers", "--delay-ms", "--ttft-ms", "--text-file",
                 "--model", "--log-level", "--access-log", "--version", "--shutdown-timeout"):
        assert flag in help_text


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "fastmock")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=15)
    assert result.stdout.strip() == f"fastmock {fastmock.__version__}"


@pytest.mark.parametrize("args,env,words", [
    (["--port", "70000"], {}, "--port"),
    (["--port", "abc"], {}, "--port"),
    (["--delay-ms", "-1"], {}, "--delay-ms"),
    (["--workers", "x"], {}, "--workers"),
    (["--log-level", "loud"], {}, "--log-level"),
    (["--text-file", "/nonexistent/corpus.txt"], {}, "--text-file"),
    (["--no-such-flag"], {}, "--no-such-flag"),
    ([], {"FASTMOCK_DELAY_MS": "fast"}, "FASTMOCK_DELAY_MS"),
    ([], {"PORT": "-3"}, "PORT"),
    ([], {"FASTMOCK_ACCESS_LOG": "maybe"}, "FASTMOCK_ACCESS_LOG"),
])
def test_a_bad_flag_or_value_exits_with_one_clear_line(args, env, words):
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("fastmock: error:"), lines


def test_port_in_use_is_one_clear_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--host", "127.0.0.1", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"fastmock: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_one_start_up_line_says_where_it_listens(start_server):
    server = start_server()
    assert wait_for(lambda: "listening" in server.log)
    line = server.log.splitlines()[0]
    assert line.startswith(f"fastmock {fastmock.__version__} listening on http://127.0.0.1:{server.port} ")


def test_environment_settings_and_flag_precedence(start_server):
    server = start_server("--delay-ms", "1", env={"FASTMOCK_DELAY_MS": "400", "FASTMOCK_MODEL": "env-model"})
    start = time.monotonic()
    raw = http_request(server, get("/stream-sse?max_tokens=5", "Connection: close"))
    assert time.monotonic() - start < 0.3  # the flag's 1 ms, not the environment's 400 ms
    assert b'"model":"env-model"' in raw


def test_port_from_the_port_variable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "fastmock", "--host", "127.0.0.1"],
                            env={**os.environ, "PORT": str(port)}, stderr=subprocess.PIPE, text=True)
    try:
        assert f"listening on http://127.0.0.1:{port} " in proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        proc.stderr.close()


def test_text_file_and_model_apply_to_every_endpoint(start_server, tmp_path):
    corpus = 'Quotes " and back\\slashes\nnew lines, tabs\tand ünïcödé — all "escaped" once.'
    path = tmp_path / "corpus.txt"
    path.write_text(corpus, encoding="utf-8")
    server = start_server("--text-file", str(path), "--model", 'my "model"', "--delay-ms", "0")
    with server.connect() as sock:
        reader = sock.makefile("rb")
        sock.sendall(get("/stream-sse"))
        chunks = chat_deltas(read_response(reader).sse_events())
        text = chat_text(chunks)
        assert text == corpus and {c["model"] for c in chunks} == {'my "model"'}
        sock.sendall(get("/stream-ndjson"))
        lines = [json.loads(x) for x in read_response(reader).body.splitlines()]
        assert "".join(x["response"] for x in lines) == corpus
        assert {x["model"] for x in lines} == {'my "model"'}
        sock.sendall(get("/api/data"))
        doc = read_response(reader).json()
        assert doc["choices"][0]["message"]["content"] == corpus and doc["model"] == 'my "model"'


def test_access_log_writes_one_line_per_request(start_server):
    server = start_server("--access-log")
    health = http_request(server, get("/health", "Connection: close"))
    http_request(server, get('/nope?x="y"', "Connection: close"))
    assert wait_for(lambda: "/nope" in server.log, timeout=3)
    lines = [line for line in server.log.splitlines() if '"GET ' in line]
    assert len(lines) == 2
    assert lines[0].startswith("127.0.0.1 - - [") and lines[0].endswith(f'"GET /health HTTP/1.1" 200 {len(health)}')
    assert '\\x22y\\x22' in lines[1] and " 404 " in lines[1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_with_streams_open_finishes_them_and_exits_0(start_server, sig):
    server = start_server("--shutdown-timeout", "3")
    finite = server.connect(timeout=10)
    finite.sendall(get("/stream-sse?delay_ms=100&max_tokens=10"))   # ends within the grace
    endless = server.connect(timeout=10)
    endless.sendall(get("/stream-loop?delay_ms=50"))                 # must be closed for us
    idle = server.connect(timeout=10)
    idle.sendall(get("/health"))
    read_response(idle.makefile("rb"))
    time.sleep(0.2)
    start = time.monotonic()
    server.proc.send_signal(sig)
    assert idle.recv(1) == b""                                       # idle: closed at once
    assert time.monotonic() - start < 1
    with pytest.raises(ConnectionRefusedError):                       # no longer accepting
        socket.create_connection(("127.0.0.1", server.port), timeout=1)
    events = read_response(finite.makefile("rb")).sse_events()
    assert len(events) == 11 and events[-1] == "[DONE]"
    endless_body = read_response(endless.makefile("rb"))               # ended cleanly, chunked
    assert endless_body.sse_events()[-1] == "[DONE]"
    assert 2.5 < time.monotonic() - start < 6
    assert server.proc.wait(10) == 0
    for sock in (finite, endless, idle):
        sock.close()


def test_workers_share_the_port_and_a_dead_worker_is_replaced(start_server):
    server = start_server("--workers", "2")
    assert wait_for(lambda: len(children(server.proc.pid)) == 2)
    for _ in range(20):
        assert http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')
    victim = children(server.proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: replaced(server.proc.pid, {victim}, 2))
    assert wait_for(lambda: "starting a new one" in server.log)
    for _ in range(20):
        assert http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')




def test_workers_zero_means_one_per_core(start_server):
    server = start_server("--workers", "0")
    assert wait_for(lambda: len(children(server.proc.pid)) == len(os.sched_getaffinity(0)))


def test_live_server_helper_is_strict():
    """The fixture's log check fails on a traceback: it would catch a loop exception handler call."""
    fake = LiveServer.__new__(LiveServer)
    fake.lines = ["Traceback (most recent call last):\n"]
    with pytest.raises(AssertionError):
        fake.assert_clean_log()


def test_sigterm_while_announcing_is_not_lost(tmp_path):
    """uvloop reads signals only while its loop runs: one sent as the start-up line goes out counts."""
    script = tmp_path / "slow_ready.py"
    script.write_text(
        "import sys, time\n"
        "from fastmock import cli, server\n"
        "config = cli.parse_config(['--host', '127.0.0.1', '--port', '0'])\n"
        "sock = server.bind_socket('127.0.0.1', 0, 16, False)\n"
        "def ready():\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(0.5)          # the SIGTERM arrives while this runs\n"
        "sys.exit(server.serve(config, server.load_frames(config), sock, ready))\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
