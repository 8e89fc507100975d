"""Server CPU per streamed frame of every provider API, beside /stream-sse, in one server.

    python bench/provider_frames.py [--runs 3] [--streams 200] [--tokens 100] [--delay-ms 20]
                                    [--apis sse,openai,gemini,...]

For each API in turn (the order rotating by round), --streams concurrent streams of
--tokens tokens at --delay-ms are opened on 127.0.0.1 and read to their end; the server's
CPU (utime + stime from /proc) over the load is divided by the frames the streams carry
(--tokens each: the token frames, which are what a stream is made of). ``sse-model`` is
/stream-sse under a latency model (X-Mock-ITL: a uniform gap of 15-25 ms, drawn per
frame): the cost of the model per frame (issue 16: at most 1.1x). Every API's figure
is divided by /stream-sse's in the same round; the table gives medians over the rounds.
The server is pinned to core 0 and this script to core 1 when the machine has two.

The client is asyncio on raw sockets and reads whatever comes (SSE, NDJSON, a JSON array
or AWS event-stream frames alike), so it needs no parser per API; a stream is ok when it
got a 200 and its answer ended. Targets (issue 17): a frame at most 1.1x /stream-sse's,
Bedrock's binary framing at most 1.3x.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
HI = "In a few sentences, why does streaming make a chat interface feel fast?"

# name -> (path, body or None[, header lines]); the token count and pacing come from the
# controls. "sse-model": /stream-sse under a latency model (its gaps drawn per frame).
APIS = {
    "sse": ("/stream-sse", None),
    "sse-model": ("/stream-sse", None, "X-Mock-ITL: uniform:min=15ms,max=25ms\r\n"),
    "openai": ("/v1/chat/completions", {"model": "m", "stream": True,
                                        "messages": [{"role": "user", "content": HI}]}),
    "anthropic": ("/v1/messages", {"model": "c", "stream": True, "max_tokens": 100000,
                                   "messages": [{"role": "user", "content": HI}]}),
    "ollama": ("/api/chat", {"model": "l", "messages": [{"role": "user", "content": HI}]}),
    "azure": ("/openai/deployments/dep/chat/completions?api-version=2024-10-21",
              {"stream": True, "messages": [{"role": "user", "content": HI}]}),
    "gemini": ("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
               {"contents": [{"role": "user", "parts": [{"text": HI}]}]}),
    "cohere": ("/v2/chat", {"model": "command-a", "stream": True,
                            "messages": [{"role": "user", "content": HI}]}),
    "bedrock": ("/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse-stream",
                {"messages": [{"role": "user", "content": [{"text": HI}]}]}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def request(path: str, body, tokens: int, delay_ms: int, headers: str = "") -> bytes:
    join = "&" if "?" in path else "?"
    target = f"{path}{join}max_tokens={tokens}"
    if not headers:
        target += f"&delay_ms={delay_ms}"
    if body is None:
        return f"GET {target} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n{headers}\r\n".encode()
    data = json.dumps(body).encode()
    return (f"POST {target} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


async def one(port: int, raw: bytes) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    while await reader.read(65536):
        pass
    writer.close()
    return head.startswith(b"HTTP/1.1 200 ")


async def load(port: int, raw: bytes, streams: int, ramp_s: float) -> int:
    async def staggered(i: int) -> bool:
        await asyncio.sleep(ramp_s * i / streams)
        return await one(port, raw)
    return sum(await asyncio.gather(*(staggered(i) for i in range(streams))))


def measure(pid: int, port: int, api: str, args) -> dict:
    path, body, *headers = APIS[api]
    raw = request(path, body, args.tokens, args.delay_ms, *headers)
    before = cpu_seconds(pid)
    started = time.monotonic()
    ok = asyncio.run(load(port, raw, args.streams, 1.0))
    took = time.monotonic() - started
    cpu = cpu_seconds(pid) - before
    frames = ok * args.tokens
    return {"ok": ok, "cpu_us_per_frame": round(cpu * 1e6 / frames, 2) if frames else None,
            "seconds": round(took, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--apis", default=",".join(APIS))
    args = parser.parse_args()
    apis = [a for a in args.apis.split(",") if a]
    if "sse" not in apis:
        apis.insert(0, "sse")
    two = (os.cpu_count() or 1) >= 2
    if two:
        os.sched_setaffinity(0, {1})
    port = free_port()
    cmd = [sys.executable, "-m", "fastmock", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--max-body-bytes", "1048576"]
    server = subprocess.Popen((["taskset", "-c", "0"] if two else []) + cmd, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        measure(server.pid, port, "sse", args)      # warm: every module the APIs load
        for api in apis:
            measure(server.pid, port, api, argparse.Namespace(**{**vars(args), "streams": 2}))
        rounds = []
        for r in range(args.runs):
            order = apis[r % len(apis):] + apis[:r % len(apis)]
            got = {api: measure(server.pid, port, api, args) for api in order}
            rounds.append(got)
            print(f"round {r + 1}: " + ", ".join(f"{a} {g['cpu_us_per_frame']} us ({g['ok']} ok)"
                                                 for a, g in got.items()), flush=True)
    finally:
        server.terminate()
        server.wait(10)
    print(f"\n{args.streams} streams x {args.tokens} tokens at {args.delay_ms} ms, "
          f"{args.runs} rounds, medians\n")
    print("| API | server CPU µs per frame | ÷ /stream-sse (same round) |")
    print("|---|---|---|")
    for api in apis:
        cpu = [r[api]["cpu_us_per_frame"] for r in rounds if r[api]["cpu_us_per_frame"]]
        ratio = [r[api]["cpu_us_per_frame"] / r["sse"]["cpu_us_per_frame"] for r in rounds
                 if r[api]["cpu_us_per_frame"] and r["sse"]["cpu_us_per_frame"]]
        print(f"| {api} | {statistics.median(cpu):.2f} | {statistics.median(ratio):.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
