"""The pre-encoded bytes of one server, built once at start from its corpus and model.

The only importer of the compiled ``_chunks``: the rest of fastmock reaches the
escaper, the tokenizer and the constant pieces of every frame through here.
Bytes only: HTTP heads are wire.py's. fastmock never runs on a silent
pure-Python fallback: a missing build fails loudly here (and in the CLI, for
every compiled module).
"""
import time

try:
    from fastmock import _chunks
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "the compiled extension fastmock._chunks is missing or broken "
        f"({exc}); reinstall fastmock with a C compiler available: pip install ."
    ) from exc

from fastmock.streamspec import NDJSON, SSE, StreamSpec

Corpus = _chunks.Corpus
json_string = _chunks.json_string
split_tokens = _chunks.split_tokens
cycled = _chunks.cycled
# the chat.completion.chunk shape, for /v1/chat/completions (see _chunks)
chat_chunk_splice = _chunks.chat_chunk_splice
chat_chunk_end = _chunks.chat_chunk_end
chat_choice_end, CHUNK_END = _chunks.chat_choice_end, _chunks.CHUNK_END
CHAT_FIRST_PREFIX, CHAT_PREFIX = _chunks.CHAT_FIRST_PREFIX, _chunks.CHAT_PREFIX
SSE_DONE = _chunks.SSE_DONE
# the OpenAI usage object (see _chunks)
openai_usage, running_usage = _chunks.openai_usage, _chunks.running_usage
USAGE_PROMPT, USAGE_COMPLETION = _chunks.USAGE_PROMPT, _chunks.USAGE_COMPLETION
USAGE_TOTAL, USAGE_DETAILS, USAGE_END = _chunks.USAGE_TOTAL, _chunks.USAGE_DETAILS, _chunks.USAGE_END
# the Ollama line shape, for /api/generate and /api/chat (see _chunks)
ollama_splice = _chunks.ollama_splice
ollama_line_pieces = _chunks.ollama_line_pieces
ollama_done, ollama_context = _chunks.ollama_done, _chunks.ollama_context
OLLAMA_GENERATE, OLLAMA_CHAT = _chunks.OLLAMA_GENERATE, _chunks.OLLAMA_CHAT
DEFAULT_TEXT = _chunks.DEFAULT_TEXT
STATIC_CREATED, STATIC_CREATED_AT = _chunks.STATIC_CREATED, _chunks.STATIC_CREATED_AT
HEALTH_BODY = _chunks.HEALTH_BODY
EXTENSION_FILE = _chunks.__file__


class Frames:
    """Everything pre-encoded for one corpus and model name."""

    __slots__ = ("corpus", "chat_model", "ollama_model", "served", "ollama_served", "ollama_pulled",
                 "_ollama_splice", "_chat_head", "_chat_tail")

    def __init__(self, text: str = DEFAULT_TEXT, model: str | None = None,
                 served: tuple = ()) -> None:
        """``served``: the names the model lists show (--served-model-name); the first is
        the model without ``model``."""
        model = model or (served[0] if served else None)
        self.corpus = Corpus(text)
        self.chat_model = json_string(model or _chunks.CHAT_MODEL)
        self.ollama_model = json_string(model or _chunks.OLLAMA_MODEL)
        # the model lists (GET /v1/models, /api/tags): escaped names
        self.served = tuple(json_string(name) for name in served) or (self.chat_model,)
        # /api/tags: --model and every --served-model-name (once each, in order), then the
        # models pulled since start (POST /api/pull adds them), as Ollama lists what it has
        self.ollama_served = tuple(dict.fromkeys(
            ((self.ollama_model,) if model else ()) + tuple(json_string(name) for name in served)
        )) or (self.ollama_model,)
        self.ollama_pulled = []
        self._ollama_splice = ollama_splice(self.ollama_model)
        # Shared by every chat stream: the splice before the id's counted digits (one per
        # process), and the splice after them (one per second: it holds "created").
        self._chat_head = (b"", b"")
        self._chat_tail = (-1, b"")

    def api_data_body(self) -> bytes:
        """The /api/data document: the whole corpus as one chat.completion."""
        return _chunks.api_data_body(self.corpus, self.chat_model)

    def chat_stream(self, id_head: bytes, id_number: int, created: int, total: int) -> StreamSpec:
        """/stream-sse and /stream-loop: chat.completion.chunk events, then ``data: [DONE]``.

        The id is ``id_head`` + 16 hex digits of ``id_number`` (see fastmock.ids).
        """
        if self._chat_head[0] != id_head:
            self._chat_head = (id_head, _chunks.CHAT_ID_OPEN + id_head)
        if self._chat_tail[0] != created:
            self._chat_tail = (created, _chunks.chat_chunk_after_id(created, self.chat_model))
        return StreamSpec(
            content_type=SSE, tokens=self.corpus.sent(total), total=total,
            splice=(self._chat_head[1], id_number, self._chat_tail[1]),
            first_prefix=CHAT_FIRST_PREFIX, prefix=CHAT_PREFIX, suffix=_chunks.CHAT_SUFFIX,
            last_suffix=_chunks.CHAT_LAST_SUFFIX, closing=SSE_DONE)

    def ollama_stream(self, total: int, stamp) -> StreamSpec:
        """/stream-ndjson: /api/generate lines, each stamped when written, then the done line."""
        splice, started = self._ollama_splice, time.monotonic_ns()

        def closing(sent: int, finish: str) -> bytes:
            return ollama_done(splice, stamp(), OLLAMA_GENERATE, b"", finish, _chunks.PROMPT_TOKENS,
                               sent, time.monotonic_ns() - started)

        return StreamSpec(
            content_type=NDJSON, tokens=self.corpus.sent(total), total=total,
            splice=splice, stamp=True, prefix=_chunks.OLLAMA_PREFIX,
            suffix=_chunks.OLLAMA_SUFFIX, closing=closing)
