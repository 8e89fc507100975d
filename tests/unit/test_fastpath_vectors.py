"""Embeddings in C (fastmock/fastpath/vectors.h) are today's vectors, byte for byte: the same
Mersenne Twister draws, the same sum and scale, the same float32 values, and each shown as
b"%.9g" % x or base64 exactly as fastmock.providers.embeddings shows it."""
from __future__ import annotations

import binascii
import math
import random
import struct

import pytest

from fastmock._fastpath import embedding_text, format_float32
from fastmock.providers.embeddings import embedding

KEYS = [b"", b"a", b"hello world", "漢字 é 🙂".encode(), b"x" * 5000, b"1,2,3", b"\x00\xff",
        "a\udc00".encode("utf-8", "surrogatepass")] + [b"%d" % i for i in range(200)]


def python_text(key: bytes, dims: int, base64: bool) -> bytes:
    vector = embedding(key, dims)
    if base64:
        return b'"' + binascii.b2a_base64(vector.tobytes(), newline=False) + b'"'
    return b"[" + b",".join(b"%.9g" % x for x in vector) + b"]"


@pytest.mark.parametrize("base64", [False, True])
@pytest.mark.parametrize("dims", [1, 2, 3, 4, 5, 16, 100, 623, 624, 625, 1536, 3072])
def test_vectors_are_todays_bytes(dims, base64):
    for key in KEYS[:: 1 if dims <= 100 else 8]:
        assert embedding_text(key, dims, base64) == python_text(key, dims, base64), key


def test_many_inputs_at_the_default_dimensions():
    rng = random.Random(7)
    for _ in range(300):
        key = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
        assert embedding_text(key, 1536) == python_text(key, 1536, False)
        assert embedding_text(key, 1536, True) == python_text(key, 1536, True)


def float32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def test_float_text_is_percent_9g_over_a_large_sample():
    rng = random.Random(11)
    samples = [rng.getrandbits(32) for _ in range(100_000)]
    # most of it where unit vectors live: |x| from 1e-9 to 1
    samples += [(rng.randrange(97, 128) << 23) | rng.getrandbits(23) | (rng.getrandbits(1) << 31)
                for _ in range(100_000)]
    for bits in samples:
        x = float32(bits)
        if math.isnan(x):
            continue
        assert format_float32(x) == b"%.9g" % x, hex(bits)


@pytest.mark.parametrize("x", [
    0.0, -0.0, 1.0, -1.0, 0.1, 0.01, 0.001, 1e-4, 1e-5, 9.99999975e-05, 1e-8, 1e-9, 1e8, 1e9,
    123456789.0, 0.5, 0.25, 3.0517578125e-05, 1.17549435e-38, 1e-45, 3.40282347e+38,
    float("inf"), float("-inf"), 0.0999999940, 0.999999940, 9.99999997e-07])
def test_float_text_at_the_edges(x):
    x = float32(struct.unpack("<I", struct.pack("<f", x))[0])    # as a float32 holds it
    assert format_float32(x) == b"%.9g" % x


def test_float_text_where_nine_digits_round_half_to_even():
    # float32 values whose exact value has a 5 right after the ninth digit
    found = 0
    rng = random.Random(3)
    for _ in range(200_000):
        bits = (rng.randrange(100, 150) << 23) | (rng.getrandbits(14) << 9)
        x = float32(bits)
        digits = ("%.30e" % x).replace(".", "")
        if digits[9] == "5" and set(digits[10:28]) == {"0"}:
            found += 1
            assert format_float32(x) == b"%.9g" % x
    assert found > 10
