"""What matching a request against 1,000 literal fixtures costs (budget: 10 us per request).

    python bench/fixtures_match.py [--fixtures 1000] [--rounds 9]

Builds 1,000 fixtures of the usual kind: ``userMessage`` phrases of 2 to 5 words
(a fifth of them also gated on ``model``), a few ``toolCallId`` and ``model``
ones. Words come from the repository's README, so fixtures and messages share
one vocabulary (a harder case than real prompts, whose words are less alike).
Then times ``FixturePool.find`` for requests whose last user message (~60 and
~600 characters) holds the first fixture's phrase, the last one's, or none, and
for a tool result: each call a fresh message (the same one with a different
number at its end), and in the last column the same message again (the pool
remembers what the last few texts it searched hold). This machine is shared and its speed varies from second to
second, so each round times ``find`` and, right after, ``json.loads`` of the
request's body (the parse every provider request already pays): the table gives
the best of the rounds for each and the median of their ratio per round.
It also prints the memory the compiled fixtures take (tracemalloc) and what a
plain scan of every fixture costs, the baseline the index is there to beat.
"""
import argparse
import json
import random
import re
import statistics
import sys
import timeit
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastmock.fixtures.load import parse_document  # noqa: E402
from fastmock.fixtures.match import FixturePool, RequestFacts  # noqa: E402

ANSWER = ("Sure. Here is what I found about that: the answer depends on a few details, "
          "so let me walk you through them one at a time.")


def vocabulary() -> list:
    text = (ROOT / "README.md").read_text()
    return sorted({w.lower() for w in re.findall(r"[A-Za-z]{2,}", text)})


def build_document(n: int, words: list, rng: random.Random) -> dict:
    phrases: list = []
    seen = set()
    while len(phrases) < n - 10:
        phrase = " ".join(rng.choice(words) for _ in range(rng.randint(2, 5)))
        if phrase not in seen:
            seen.add(phrase)
            phrases.append(phrase)
    fixtures = []
    for i, phrase in enumerate(phrases):
        match = {"userMessage": phrase}
        if i % 5 == 0:
            match["model"] = rng.choice(("gpt-4o", "claude-sonnet-4", "llama3"))
        fixtures.append({"match": match, "response": {"content": ANSWER}})
    fixtures += [{"match": {"toolCallId": f"call_{i}"}, "response": {"content": "Done."}}
                 for i in range(5)]
    fixtures += [{"match": {"model": f"special-{i}"}, "response": {"content": "Hi."}}
                 for i in range(5)]
    return {"fixtures": fixtures}


def sentence(words: list, rng: random.Random, length: int, phrase: str = "") -> str:
    out: list = []
    while len(" ".join(out)) < length:
        out.append(rng.choice(words))
    if phrase:
        out.insert(len(out) // 2, phrase)
    return " ".join(out) + "?"


def scan(fixtures, facts):
    """No index: every fixture checked in order."""
    for fixture in fixtures:
        if fixture.match.test(facts):
            return fixture
    return None


def timed(pool, variants: list, rounds: int, body: bytes) -> tuple:
    """find() on a fresh variant each call: best of the rounds, and its median ratio to the
    body's json.loads measured right after it in the same round."""
    number = len(variants)
    mine, parse, ratio = [], [], []
    for _ in range(rounds):
        it = iter(variants)
        a = timeit.timeit(lambda: pool.find(next(it)), number=number) / number * 1e6
        b = timeit.timeit(lambda: json.loads(body), number=number) / number * 1e6
        mine.append(a)
        parse.append(b)
        ratio.append(a / b)
    return min(mine), min(parse), statistics.median(ratio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    rng = random.Random(42)
    words = vocabulary()
    doc = build_document(args.fixtures, words, rng)

    tracemalloc.start()
    fixtures = parse_document(doc, "bench")
    pool = FixturePool(fixtures)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    phrases = [f["match"]["userMessage"] for f in doc["fixtures"]
               if "userMessage" in f["match"] and "model" not in f["match"]]
    cases = []
    for length in (60, 600):
        cases += [
            (f"first fixture, {length}-char message", sentence(words, rng, length, phrases[0]), None),
            (f"last fixture, {length}-char message", sentence(words, rng, length, phrases[-1]), None),
            (f"no match, {length}-char message", sentence(words, rng, length), None),
        ]
    cases.append(("tool result (toolCallId)", sentence(words, rng, 60), "call_4"))

    print(f"{len(pool)} fixtures: {size / 1e6:.2f} MB compiled and indexed (tracemalloc)")
    print(f"{'request':34} {'find()':>9} {'json.loads':>11} {'ratio':>6} {'plain scan':>11} "
          f"{'repeated':>9}  answer")
    for name, text, call_id in cases:
        messages = [("system", "You are a helpful assistant.", None), ("user", text, None)]
        if call_id:
            messages += [("assistant", None, None), ("tool", '{"ok": true}', call_id)]
        facts = RequestFacts.from_messages(messages, model="gpt-4o-2024-08-06")
        variants = []
        for i in range(2000):
            fresh = [(r, f"{t} {i}" if r == "user" else t, c) for r, t, c in messages]
            variants.append(RequestFacts.from_messages(fresh, model="gpt-4o-2024-08-06"))
        body = json.dumps({"model": "gpt-4o-2024-08-06", "stream": True, "messages": [
            {"role": r, "content": t} for r, t, _ in messages]}).encode()
        pool.reset_counters()
        found = pool.find(facts)
        assert found is scan(fixtures, facts), name
        find_us, parse_us, ratio = timed(pool, variants, args.rounds, body)
        assert all(pool.find(v) is found for v in variants[:50]), name
        again_us = min(timeit.repeat(lambda: pool.find(facts), number=2000, repeat=3)) / 2000 * 1e6
        scan_us = min(timeit.repeat(lambda: scan(fixtures, facts), number=50, repeat=3)) / 50 * 1e6
        label = found.label if found else "none"
        print(f"{name:34} {find_us:6.2f} us {parse_us:8.2f} us {ratio:5.2f}x {scan_us:8.1f} us "
              f"{again_us:6.2f} us  {label}")


if __name__ == "__main__":
    main()
