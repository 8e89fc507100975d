DEFAULT_TEXT: str
CHAT_MODEL: str
OLLAMA_MODEL: str
PROMPT_TOKENS: int
STATIC_CREATED: int
CRLF: bytes
CHAT_FIRST_PREFIX: bytes
CHAT_PREFIX: bytes
CHAT_SUFFIX: bytes
CHAT_LAST_SUFFIX: bytes
SSE_DONE: bytes
OLLAMA_PREFIX: bytes
OLLAMA_SUFFIX: bytes
HEALTH_BODY: bytes
KEEP_ALIVE: int
KEEP_ALIVE_10: int
CLOSE: int

def json_string(text: str) -> bytes: ...
def split_tokens(text: str) -> list[str]: ...

class Corpus:
    text: str
    tokens: tuple[str, ...]
    escaped: tuple[bytes, ...]
    def __init__(self, text: str) -> None: ...
    def __len__(self) -> int: ...

def chat_chunk_splice(completion_id: bytes, created: int, model: bytes) -> bytes: ...
def ollama_generate_splice(model: bytes) -> bytes: ...
def ollama_generate_done(model: bytes, stamp: bytes, eval_count: int, total_ns: int, done_reason: str) -> bytes: ...
def api_data_body(corpus: Corpus, model: bytes) -> bytes: ...
def whole_responses(status_line: bytes, headers: bytes, body: bytes) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]: ...
