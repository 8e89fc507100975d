"""The frame tables of one server, built once at start from its corpus and model.

This is the only module that imports the compiled extension: fastmock never
runs on a silent pure-Python fallback, so a missing build fails loudly here.
"""
from __future__ import annotations

try:
    from fastmock import _chunks
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "fastmock's compiled extension fastmock._chunks is missing or broken "
        f"({exc}); reinstall fastmock with a C compiler available: pip install ."
    ) from exc

Corpus = _chunks.Corpus
FrameTable = _chunks.FrameTable
json_string = _chunks.json_string
split_tokens = _chunks.split_tokens
chat_chunk_splice = _chunks.chat_chunk_splice
ollama_generate_done = _chunks.ollama_generate_done
PLAIN, FIRST, LAST, ONLY = _chunks.PLAIN, _chunks.FIRST, _chunks.LAST, _chunks.ONLY
KEEP_ALIVE, KEEP_ALIVE_10, CLOSE = _chunks.KEEP_ALIVE, _chunks.KEEP_ALIVE_10, _chunks.CLOSE
DEFAULT_TEXT = _chunks.DEFAULT_TEXT
EXTENSION_FILE = _chunks.__file__


class Frames:
    """Everything pre-encoded for one corpus and model name."""

    __slots__ = ("corpus", "chat_model", "ollama_model", "chat", "ollama", "api_data", "health")

    def __init__(self, text: str = DEFAULT_TEXT, model: str | None = None) -> None:
        from fastmock import responses  # responses needs this module's escaper first

        self.corpus = Corpus(text)
        self.chat_model = json_string(model or _chunks.CHAT_MODEL)
        self.ollama_model = json_string(model or _chunks.OLLAMA_MODEL)
        self.chat = _chunks.chat_chunk_table(self.corpus)
        self.ollama = _chunks.ollama_generate_table(self.corpus)
        # (GET variants, HEAD variants), indexed by KEEP_ALIVE / KEEP_ALIVE_10 / CLOSE
        self.api_data = _chunks.whole_responses(
            responses.status_line(200), responses.JSON_HEADERS,
            _chunks.api_data_body(self.corpus, self.chat_model))
        self.health = _chunks.whole_responses(
            responses.status_line(200), responses.JSON_HEADERS, _chunks.HEALTH_BODY)
