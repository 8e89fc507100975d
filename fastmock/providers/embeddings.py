"""OpenAI-compatible ``POST /v1/embeddings``: deterministic vectors derived from the input.

Each vector is float32 and of unit length, drawn from a Mersenne Twister seeded by two
CRC-32s of the input's bytes (no hashlib, no numpy): the same input always gives the
same vector, in ``float`` (9 significant digits: exactly the float32 values) or
``base64`` (little-endian float32) encoding.
"""
import array
import binascii
import sys

from _random import Random

from fastmock.providers import request
from fastmock.providers.common import Call
from fastmock.providers.openai import inputs
from fastmock.providers.request import ApiError

DIMENSIONS = 1536
MAX_DIMENSIONS = 3072
MAX_NUMBERS = 65_536                  # inputs x dimensions of one answer: it is built at once


def embeddings(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    value = request.required(doc, "input")
    dims = request.integer(doc, "dimensions", 1, MAX_DIMENSIONS) or DIMENSIONS
    encoding = request.string(doc, "encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(400, "'encoding_format' must be 'float' or 'base64'", "encoding_format")
    _, tokens = inputs(value, "input")
    call.prompt_tokens = tokens
    if call.script is not None:     # scripted answers: the fixture's vector, when one matches
        answer = call.script.embeddings(call, value, model, encoding, tokens)
        if answer is not None:
            return answer
    keys = _embedding_keys(value)
    if len(keys) * dims > MAX_NUMBERS:
        raise ApiError(400, f"at most {MAX_NUMBERS} numbers per request (inputs x dimensions): "
                            f"{len(keys)} x {dims} asked", "dimensions")
    data = []
    for index, key in enumerate(keys):
        vector = embedding(key, dims)
        if encoding == "base64":
            if sys.byteorder == "big":
                vector.byteswap()
            body = b'"' + binascii.b2a_base64(vector.tobytes(), newline=False) + b'"'
        else:
            body = b"[" + b",".join(b"%.9g" % x for x in vector) + b"]"
        data.append(b'{"object":"embedding","index":%d,"embedding":' % index + body + b"}")
    return call.whole(b'{"object":"list","data":[' + b",".join(data) + b'],"model":"' + model
                      + b'","usage":{"prompt_tokens":%d,"total_tokens":%d}}' % (tokens, tokens))


def _embedding_keys(value) -> list[bytes]:
    """The bytes each embedding is derived from, one per input."""
    if isinstance(value, str):
        return [request.utf8(value)]
    if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [b",".join(b"%d" % v for v in value)]
    return [request.utf8(v) if isinstance(v, str) else b",".join(b"%d" % t for t in v)
            for v in value]


def embedding(key: bytes, dims: int) -> array.array:
    """A deterministic unit vector (float32) for ``key``: CRC-32 twice seeds a Mersenne Twister."""
    seed = (binascii.crc32(key) << 32) | binascii.crc32(key, 0x9E3779B9)
    draw = Random(seed).random
    # arrays and generators, not lists: a vector never holds thousands of float objects
    values = array.array("d", (draw() * 2.0 - 1.0 for _ in range(dims)))
    scale = 1.0 / (sum(v * v for v in values) ** 0.5 or 1.0)
    return array.array("f", (v * scale for v in values))
