"""``--text-file``: the corpus, read once, within bounds on its size and on what it costs.

Read once, by the command line, at most MAX_TEXT_BYTES + 1 bytes (so /dev/zero or an
endless pipe ends with one clear line, not an OOM kill); the server builds its frames
from that same text. The corpus costs far more memory than its bytes: every token is a
str and a JSON-escaped bytes object, and /api/data holds the whole text three times.
Measured (fastmock.frames.Frames, RssAnon before and after): 138 B per token for
one-letter words, 147-191 B per token for words of 5-19 letters, 165 for non-ASCII,
i.e. 9.6-69 B per byte of text. COST_PER_TOKEN and COST_PER_BYTE bound all of them.
Under a memory limit, a corpus whose cost on top of an idle server (SERVER_FLOOR)
would pass --memory-high is refused: the server would refuse every connection from
the start.
"""
MAX_TEXT_BYTES = 8 << 20
COST_PER_TOKEN = 120         # bytes of memory per token (split at spaces) ...
COST_PER_BYTE = 8            # ... plus per byte of UTF-8 text
# An idle server's charge under the compose limits, built-in corpus: 12.1-12.9 MiB.
SERVER_FLOOR = 12 << 20
MIB = 1 << 20


class TextFile(str):
    """A --text-file's path (a str, as Config keeps it), with the text read from it."""

    text: str


def read_text_file(path: str, limit: int = MAX_TEXT_BYTES) -> TextFile:
    """The file's text, read once and at most ``limit`` bytes; ValueError says why not."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit // MIB} MiB (the most a corpus may be)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise ValueError(f"{path} has no text to stream")
    found = TextFile(path)
    found.text = text
    return found


def corpus_cost(text: str) -> int:
    """Bytes of memory the server's tables for ``text`` will take (an upper estimate)."""
    return (text.count(" ") + 1) * COST_PER_TOKEN + len(text.encode()) * COST_PER_BYTE


def too_big_for(text: str, limit: int | None, memory_high: float) -> str | None:
    """Why ``text`` would not fit under the memory ``limit``, or None when it fits."""
    if limit is None:
        return None
    fraction = memory_high or 1.0
    room = limit * fraction - SERVER_FLOOR
    cost = corpus_cost(text)
    if cost <= room:
        return None
    return (f"its tables would take ~{cost / MIB:.1f} MiB, and with the server's "
            f"~{SERVER_FLOOR / MIB:.0f} MiB that is over {fraction:.0%} of the "
            f"{limit / MIB:.0f} MiB memory limit (room for ~{max(room, 0) / MIB:.1f} MiB)")
