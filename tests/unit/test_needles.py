"""fastmock._needles: the C index fixture matching files its literal needles in."""
import random
import sys

import pytest

from fastmock._needles import STRIDE, GramTally, NeedleIndex, grams


def indexed(needles, width=8, last=False):
    """An index with each needle filed as match.py files it: under grams at two
    consecutive offsets when it has them (the first or the ``last`` such pair here),
    else short."""
    index = NeedleIndex()
    for needle in needles:
        number = index.add(needle)
        if len(needle) >= width + STRIDE - 1:
            found = grams(needle, width)
            first = len(found) - STRIDE if last else 0
            for offset in (first, first + 1):
                index.file(number, width, found[offset], offset)
        else:
            index.file_short(number)
    return index


def test_grams_are_the_native_integers_of_every_window():
    data = "héllo wörld".encode()
    for width in (4, 8):
        assert grams(data, width) == [int.from_bytes(data[i:i + width], sys.byteorder)
                                      for i in range(len(data) - width + 1)]
    assert grams(b"abc", 4) == []
    with pytest.raises(ValueError):
        grams(b"abcdefgh", 3)


@pytest.mark.parametrize("width", [4, 8])
def test_search_agrees_with_in_for_random_needles_and_texts(width):
    rng = random.Random(width)
    alphabet = "abé€ "           # few letters: many shared grams, many near misses
    for _ in range(60):
        needles = list({"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))).encode()
                        for _ in range(rng.randint(1, 40))})
        index = indexed(needles, width)
        for _ in range(40):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))).encode()
            expected = {n for n, needle in enumerate(needles) if needle in text}
            assert index.search(text) == expected, (needles, text)


def test_a_needle_of_one_repeated_gram_is_found_at_odd_and_even_offsets():
    index = indexed([b"aaaaaaaaa"])
    for prefix in range(4):
        assert index.search(b"x" * prefix + b"aaaaaaaaa") == {0}
        assert index.search(b"x" * prefix + b"aaaaaaaa") == set()


def test_the_tables_grow_and_keep_every_needle():
    needles = [f"needle number {n:05d}".encode() for n in range(5000)]
    index = indexed(needles, last=True)
    assert index.sizes()[0] > 5000                             # grown from 16 slots
    for n in range(0, 5000, 97):
        assert index.search(b"... " + needles[n] + b" ...") == {n}
    shared = indexed(needles)                                  # all under the same two grams
    assert shared.sizes() == (2, 0, 0) and shared.count(8, grams(needles[0], 8)[0]) == 5000
    assert shared.search(needles[4321]) == {4321}


def test_needles_are_kept_byte_for_byte_and_bad_filings_are_refused():
    index = NeedleIndex()
    assert [index.add(b""), index.add(b"\x00\xff abc")] == [0, 1]
    assert index.needle(1) == b"\x00\xff abc" and index.needle(0) == b""
    index.file_short(0)
    assert index.search(b"") == {0}                            # "" is in every text
    with pytest.raises(IndexError):
        index.needle(2)
    with pytest.raises(ValueError):
        index.file(1, 8, 0, 7)                                 # no gram at offset 7
    with pytest.raises(ValueError):
        index.file(5, 8, 0, 0)                                 # no needle 5
    with pytest.raises(ValueError):
        index.file(1, 6, 0, 0)                                 # grams are 8 or 4 bytes


@pytest.mark.parametrize("width", (8, 4))
@pytest.mark.parametrize("room", (0, 10_000))
def test_a_tally_counts_each_needles_grams_once_and_finds_the_rarest_pair(width, room):
    rng = random.Random(width)
    needles = list(dict.fromkeys(bytes(rng.choice(b"ab c\xc3\xa9") for _ in range(rng.randint(1, 40)))
                                 for _ in range(800)))
    tally = GramTally(width, room)      # room 0: it grows as it goes
    for needle in needles:
        tally.add(needle)
    counts: dict = {}
    for needle in needles:
        for gram in set(grams(needle, width)):
            counts[gram] = counts.get(gram, 0) + 1
    assert all(tally.count(gram) == n for gram, n in counts.items())
    assert tally.count(int.from_bytes(b"zzzzzzzz"[:width], sys.byteorder)) == 0
    for needle in needles:
        found = grams(needle, width)
        if len(found) < STRIDE:
            with pytest.raises(ValueError):
                tally.rarest(needle)
            continue
        # what match.py chose in Python before: the first offset of least weight
        best = min(range(len(found) - STRIDE + 1),
                   key=lambda o: sum(counts.get(g, 0) for g in found[o:o + STRIDE]))
        assert tally.rarest(needle) == best
