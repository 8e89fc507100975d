DEFAULT_TEXT: str
CHAT_MODEL: str
OLLAMA_MODEL: str
PROMPT_TOKENS: int
STATIC_CREATED: int
STATIC_CREATED_AT: bytes
CHAT_FIRST_PREFIX: bytes
CHAT_PREFIX: bytes
CHAT_SUFFIX: bytes
CHAT_LAST_SUFFIX: bytes
SSE_DONE: bytes
CHAT_ID_OPEN: bytes
OLLAMA_PREFIX: bytes
OLLAMA_SUFFIX: bytes
OLLAMA_GENERATE: tuple[bytes, bytes]
OLLAMA_CHAT: tuple[bytes, bytes]
HEALTH_BODY: bytes
USAGE_PROMPT: bytes
USAGE_COMPLETION: bytes
USAGE_TOTAL: bytes
USAGE_DETAILS: bytes
USAGE_END: bytes

def json_string(text: str) -> bytes: ...
def split_tokens(text: str) -> list[str]: ...

class Corpus:
    text: str
    tokens: tuple[str, ...]
    escaped: tuple[bytes, ...]
    def __init__(self, text: str) -> None: ...
    def __len__(self) -> int: ...

def chat_chunk_end(finish_reason: str | None, logprobs: bool) -> bytes: ...
def chat_chunk_after_id(created: int, model: bytes, usage: bool = False) -> bytes: ...
def chat_chunk_splice(completion_id: bytes, created: int, model: bytes, usage: bool = False) -> bytes: ...
def openai_usage(prompt: int, completion: int, reasoning: int = 0) -> bytes: ...
def ollama_splice(model: bytes) -> bytes: ...
def ollama_line_pieces(field: tuple[bytes, bytes]) -> tuple[bytes, bytes]: ...
def ollama_done(splice: bytes, stamp: bytes, field: tuple[bytes, bytes], text: bytes, done_reason: str,
                prompt_count: int = 0, eval_count: int = 0, elapsed_ns: int = -1) -> bytes: ...
def api_data_body(corpus: Corpus, model: bytes) -> bytes: ...
