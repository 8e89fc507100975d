"""What a streamed body holds: SSE events, NDJSON lines, OpenAI chat chunks. Strict about framing."""
from __future__ import annotations

import json


def sse_events(body: bytes) -> list[bytes]:
    """The data payloads of an SSE body, strictly ``data: ...\\n\\n`` each."""
    assert body.endswith(b"\n\n"), body[-40:]
    events = body[:-2].split(b"\n\n")
    out = []
    for event in events:
        assert event.startswith(b"data: ") and b"\n" not in event, event
        out.append(event[len(b"data: "):])
    return out


def sse(body: bytes) -> list[tuple[str | None, object]]:
    """(event name, parsed data) of each SSE event, named or not; "[DONE]" stays a string."""
    out = []
    text = body.decode()
    assert text.endswith("\n\n"), text[-200:]
    for block in text[:-2].split("\n\n"):
        name, data = None, None
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            else:
                assert field == "data", block
                data = value if value == "[DONE]" else json.loads(value)
        out.append((name, data))
    return out


def ndjson(body: bytes) -> list[dict]:
    assert body.endswith(b"\n"), body[-200:]
    return [json.loads(line) for line in body[:-1].split(b"\n")]


def chat_deltas(events: list[bytes] | list[str]) -> list[dict]:
    """The parsed chunk objects of OpenAI chat SSE events (the final [DONE] checked and left out)."""
    assert events[-1] in (b"[DONE]", "[DONE]"), events[-3:]
    return [json.loads(e) for e in events[:-1]]


def chat_text(chunks: list[dict]) -> str:
    """The text the chunks carry, joined."""
    return "".join(c["choices"][0]["delta"]["content"] for c in chunks)
