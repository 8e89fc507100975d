"""The provider phases: what fastmock's provider APIs cost the server, beside GET /api/data.

  provider         POST per API, not streamed (the corpus answer), with a fresh body every
                   request (the user message varies, as load tools vary it) and with one
                   repeated body
  short_stream     POST per API with "stream": true and a 1-token limit at full rate: the
                   cost of starting a stream (request to head, first frame and end)
  embeddings       POST /v1/embeddings, 1,536 dimensions, encoding_format float and base64
  provider_frames  paced chat streams vs /stream-sse in the same server: CPU per frame

The first three run wrk with post.lua (beside this file) for --provider-duration s per
load, and GET /api/data the same way before and after the loads, in the same server:
each load's server CPU per request is divided by the mean of those two, and that
ratio, taken within the round, is what the medians are made of. Before each load the
server is let finish what the previous one left queued (wrk stops with up to
--wrk-conns requests sent and unanswered), so no load pays for another's. A load the
server does not answer as expected (a probe request first) is skipped for that server,
with why.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import statistics
import time
from dataclasses import dataclass

from .procfs import tree_status_kb, wait_idle
from .seed import paced_streams
from .tools import run_wrk

MESSAGE = "@MESSAGE@"     # where post.lua puts the user message
POST_LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "post.lua")
DIMENSIONS = 1536         # OpenAI's text-embedding-3-small, and fastmock's default


@dataclass(frozen=True)
class Api:
    """One provider API as the bench asks it: its path, a non-streamed body, and what a
    1-token stream adds to it."""
    key: str
    title: str
    path: str
    body: dict
    short: dict           # merged into body for short_stream
    answer_key: str       # a key of the non-streamed JSON answer


APIS = (
    Api("chat", "OpenAI chat completions", "/v1/chat/completions",
        {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                              {"role": "user", "content": MESSAGE}]},
        {"stream": True, "max_tokens": 1}, "choices"),
    Api("completions", "OpenAI completions", "/v1/completions",
        {"model": "gpt-3.5-turbo-instruct", "prompt": MESSAGE},
        {"stream": True, "max_tokens": 1}, "choices"),
    Api("responses", "OpenAI Responses", "/v1/responses",
        {"model": "gpt-4o-mini", "input": MESSAGE},
        {"stream": True, "max_output_tokens": 1}, "output"),
    Api("messages", "Anthropic messages", "/v1/messages",
        {"model": "claude-3-5-haiku-latest", "max_tokens": 1024, "messages": [{"role": "user", "content": MESSAGE}]},
        {"stream": True, "max_tokens": 1}, "content"),
    Api("ollama_chat", "Ollama chat", "/api/chat",
        {"model": "llama3.2", "stream": False, "messages": [{"role": "user", "content": MESSAGE}]},
        {"stream": True, "options": {"num_predict": 1}}, "message"),
    Api("ollama_generate", "Ollama generate", "/api/generate",
        {"model": "llama3.2", "stream": False, "prompt": MESSAGE},
        {"stream": True, "options": {"num_predict": 1}}, "response"),
)

EMBEDDINGS_MODEL = "text-embedding-3-small"


@dataclass(frozen=True)
class Load:
    """One wrk load of a provider phase: the figures' prefix in the results, the path,
    the body (with MESSAGE), fresh or same, and what a right answer looks like."""
    key: str
    title: str
    path: str
    body: dict
    mode: str             # "fresh" or "same"
    expect: str           # "json:KEY", "stream", "embedding:float" or "embedding:base64"


def provider_loads() -> list[Load]:
    return [Load(f"{a.key}_{mode}", f"{a.title}, not streamed, {'a fresh' if mode == 'fresh' else 'one repeated'} "
                 f"body", a.path, a.body, mode, "json:" + a.answer_key)
            for a in APIS for mode in ("fresh", "same")]


def short_stream_loads() -> list[Load]:
    return [Load(a.key, f"{a.title}, stream of 1 token", a.path, {**a.body, **a.short}, "fresh", "stream")
            for a in APIS]


def embeddings_loads() -> list[Load]:
    return [Load(enc, f"embeddings, {DIMENSIONS:,} dimensions, {enc}", "/v1/embeddings",
                 {"model": EMBEDDINGS_MODEL, "input": MESSAGE, "encoding_format": enc}, "fresh", "embedding:" + enc)
            for enc in ("float", "base64")]


LOADS = {"provider": provider_loads, "short_stream": short_stream_loads, "embeddings": embeddings_loads}


# --------------------------------------------------------------------------- probing
def body_file(args, load: Load, message: str | None = None) -> str:
    """the load's body in the run's log directory: with the MESSAGE marker for post.lua,
    or with ``message`` in its place (a body for streamload)"""
    d = os.path.join(args.logdir, "bodies")
    os.makedirs(d, exist_ok=True)
    name = f"{load.path.strip('/').replace('/', '_')}-{load.key}{'-fixed' if message else ''}.json"
    path = os.path.join(d, name)
    text = json.dumps(load.body, separators=(",", ":"))
    with open(path, "w") as f:
        f.write(text.replace(MESSAGE, message) if message else text)
    return path


def post(port: int, path: str, body: bytes, timeout: float = 10, read: bool = True) -> tuple[int, str, bytes]:
    """(status, content type, body) of one POST; the body only when ``read`` (a stream's is not waited for)"""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read() if read else b""
    finally:
        conn.close()


def wrong_answer(port: int, load: Load) -> str | None:
    """None when one request of the load gets the answer it should; otherwise what is wrong"""
    body = json.dumps(load.body).replace(MESSAGE, "A probe: is this answered?").encode()
    try:
        status, ctype, data = post(port, load.path, body, read=load.expect != "stream")
    except (OSError, http.client.HTTPException) as e:
        return f"{load.path}: {type(e).__name__}: {e}"
    if status != 200:
        return f"{load.path}: status {status}"
    if load.expect == "stream":
        if "event-stream" not in ctype and "ndjson" not in ctype:
            return f"{load.path}: not a stream ({ctype})"
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return f"{load.path}: not JSON"
    kind, _, what = load.expect.partition(":")
    if kind == "json":
        return None if isinstance(doc, dict) and what in doc else f"{load.path}: no {what!r} in the answer"
    try:
        vec = doc["data"][0]["embedding"]
    except (KeyError, IndexError, TypeError):
        return f"{load.path}: no data[0].embedding"
    if what == "float":
        n = len(vec) if isinstance(vec, list) else None
    else:
        n = len(base64.b64decode(vec)) // 4 if isinstance(vec, str) else None
    return None if n == DIMENSIONS else f"{load.path}: not {DIMENSIONS} {what} numbers"


def serves_api_data(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/api/data")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


# --------------------------------------------------------------------------- the phases
WRK_KEYS = ("cpu_us_per_req", "rps", "requests", "p99_ms", "errors", "timeouts", "non2xx")


def _run_loads(args, srv, rnd: int, phase: str) -> dict:
    """one round of a wrk-driven provider phase in a fresh server"""
    if srv.start(f"r{rnd}-{phase}") is None:
        return {"start_failed": 1}
    try:
        out: dict = {}
        if phase == "provider":
            time.sleep(1)
            out["rss_idle_kb"] = tree_status_kb(srv.pid, "VmRSS")
        loads = []
        for load in LOADS[phase]():
            why = wrong_answer(srv.port, load)
            if why:
                out[f"{load.key}_skipped"] = why
            else:
                loads.append(load)
        if not loads:
            return {"skipped": "no provider endpoints", **out}
        if phase == "provider":
            # the probes have loaded every API's code: what that costs an idle server
            out["rss_probed_kb"] = tree_status_kb(srv.pid, "VmRSS")
            out["rss_provider_apis_kb"] = out["rss_probed_kb"] - out["rss_idle_kb"]
        reference = serves_api_data(srv.port)
        seconds = args.provider_duration
        tag = f"r{rnd}-{phase}-{srv.label}"
        # a second of the first load, not measured: a JIT (aimock's V8) warms up, lazy imports load
        run_wrk(args, srv, f"{tag}-warm-up.txt", loads[0].path, seconds=1, script=POST_LUA,
                script_args=(body_file(args, loads[0]), loads[0].mode))
        refs, other, load_busy, settle = [], [], [], []

        def api_data(when: str) -> None:
            settle.append(wait_idle(srv.pid))
            r = run_wrk(args, srv, f"{tag}-api-data-{when}.txt", seconds=seconds)
            if r.get("cpu_us_per_req"):
                refs.append(r["cpu_us_per_req"])
            out[f"apidata_{when}_cpu_us_per_req"] = r.get("cpu_us_per_req")

        if reference:
            api_data("before")
        for load in loads if rnd % 2 else loads[::-1]:
            settle.append(wait_idle(srv.pid))
            r = run_wrk(args, srv, f"{tag}-{load.key}.txt", load.path, seconds=seconds, script=POST_LUA,
                        script_args=(body_file(args, load), load.mode))
            out.update({f"{load.key}_{k}": r.get(k) for k in WRK_KEYS})
            other.append(r.get("other_cpu_pct") or 0)
            load_busy.append(r.get("load_core_busy_pct") or 0)
        if reference:
            api_data("after")
        if refs:
            ref = statistics.mean(refs)
            out["apidata_cpu_us_per_req"] = round(ref, 2)
            for load in loads:
                cpu = out.get(f"{load.key}_cpu_us_per_req")
                if cpu:
                    out[f"{load.key}_x_apidata"] = round(cpu / ref, 3)
        out["bad_answers"] = sum((out.get(f"{ld.key}_non2xx") or 0) + (out.get(f"{ld.key}_errors") or 0)
                                 for ld in loads)
        out["other_cpu_pct"] = round(statistics.mean(other), 1) if other else None
        out["load_core_busy_pct_max"] = max(load_busy) if load_busy else None
        # the longest wait for the server to finish what a load left queued (a slow answer
        # times wrk's connections); that work is charged to no load
        out["settle_max_s"] = max(settle)
        out["alive_after"] = int(srv.alive())
        return out
    finally:
        srv.stop()


def phase_provider(args, srv, rnd: int) -> dict:
    return _run_loads(args, srv, rnd, "provider")


def phase_short_stream(args, srv, rnd: int) -> dict:
    return _run_loads(args, srv, rnd, "short_stream")


def phase_embeddings(args, srv, rnd: int) -> dict:
    return _run_loads(args, srv, rnd, "embeddings")


CHAT_STREAM = Load("chat", "OpenAI chat completions, streamed", "/v1/chat/completions",
                   {**APIS[0].body, "stream": True}, "same", "stream")
FRAME_KEYS = ("ok", "failed", "frames", "cpu_us_per_frame", "gap_p50_ms", "gap_p99_ms", "ttff_p99_ms",
              "drift_max_ms", "other_cpu_pct")


def phase_provider_frames(args, srv, rnd: int) -> dict:
    """--streams paced chat streams, then as many /stream-sse ones (the order alternating by
    round), both at --stream-delay, in one server: the CPU per frame of each and their ratio"""
    if srv.start(f"r{rnd}-provider_frames") is None:
        return {"start_failed": 1}
    try:
        if not srv.streams:
            return {"skipped": "no streaming endpoints"}
        why = wrong_answer(srv.port, CHAT_STREAM)
        if why:
            return {"skipped": why}
        d = args.stream_delay
        body = body_file(args, CHAT_STREAM, "In a few sentences, why does streaming make a chat interface feel fast?")
        runs = [("sse", f"/stream-sse?delay_ms={d}", None), ("chat", f"{CHAT_STREAM.path}?delay_ms={d}", body)]
        out: dict = {}
        for name, path, bf in runs if rnd % 2 else runs[::-1]:
            time.sleep(1)
            res, _ = paced_streams(args, srv, path, f"r{rnd}-provider-frames-{name}-{srv.label}.txt", body_file=bf)
            out.update({f"{name}_{k}": res.get(k) for k in FRAME_KEYS})
        if out.get("chat_cpu_us_per_frame") and out.get("sse_cpu_us_per_frame"):
            out["chat_x_sse"] = round(out["chat_cpu_us_per_frame"] / out["sse_cpu_us_per_frame"], 3)
        out["alive_after"] = int(srv.alive())
        return out
    finally:
        srv.stop()


PHASES = {"provider": phase_provider, "short_stream": phase_short_stream, "embeddings": phase_embeddings,
          "provider_frames": phase_provider_frames}
