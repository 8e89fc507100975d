"""Matching: aimock's rules for each field, first match wins, sequences, run-time fixtures, an exact index."""
import random

import pytest

from fastmock.fixtures.load import parse_document
from fastmock.fixtures.match import FixturePool, RequestFacts

F = RequestFacts


def pool_of(*matches, responses=None) -> FixturePool:
    """A pool of fixtures with these matches; fixture i answers "i" (or responses[i])."""
    docs = [{"match": m, "response": (responses or {}).get(i, {"content": str(i)})}
            for i, m in enumerate(matches)]
    return FixturePool(parse_document({"fixtures": docs}, "t.json"))


def answer(pool: FixturePool, facts: RequestFacts):
    found = pool.find(facts)
    return None if found is None else found.index


def chat(text="hello", **kw) -> RequestFacts:
    return F.from_messages([("user", text, None)], **kw)


# -- the facts of a conversation ----------------------------------------------------------

def test_facts_follow_aimocks_rules_for_which_message_counts():
    facts = F.from_messages([
        ("system", "You are terse.", None),
        ("user", "first question", None),
        ("assistant", None, None),
        ("tool", "old result", "call_0"),
        ("system", "Second rule.", None),
        ("user", "second question", None),
        ("user", None, None),                    # an attachment only: skipped
        ("assistant", "calling", None),
        ("tool", '{"temp": 21}', "call_1"),
    ], model="gpt-4o", tool_names=["get_weather", "get_time"], test_id="t1")
    assert facts.user_text == "second question"
    assert facts.system_text == "You are terse.\nSecond rule."
    assert facts.turn_index == 2
    assert facts.has_tool_result is True
    assert (facts.tool_call_id, facts.tool_result) == ("call_1", '{"temp": 21}')
    assert facts.tool_names == {"get_weather", "get_time"}
    assert (facts.model, facts.endpoint, facts.test_id) == ("gpt-4o", "chat", "t1")


def test_a_tool_result_before_the_last_user_message_is_not_this_turns():
    facts = F.from_messages([("user", "a", None), ("assistant", None, None),
                             ("tool", "r", "c1"), ("user", "b", None)])
    assert facts.has_tool_result is False and facts.tool_call_id is None


def test_without_a_user_message_the_whole_conversation_is_this_turn():
    facts = F.from_messages([("system", "s", None), ("tool", "r", "c1")])
    assert facts.has_tool_result is True and facts.user_text is None


def test_an_empty_user_text_is_a_text():
    assert F.from_messages([("user", "", None)]).user_text == ""


# -- each match field ---------------------------------------------------------------------

def test_user_message_is_a_substring_of_the_last_user_message():
    pool = pool_of({"userMessage": "weather"})
    assert answer(pool, chat("What's the weather like?")) == 0
    assert answer(pool, chat("What's the Weather like?")) is None       # case matters, as in aimock
    assert answer(pool, F.from_messages([("user", "weather", None), ("user", "thanks", None)])) is None
    assert answer(pool, F.from_messages([("system", "weather", None)])) is None


def test_a_regex_is_searched_with_its_flags():
    pool = pool_of({"userMessage": {"regex": r"^book (a|the) flight", "flags": "i"}})
    assert answer(pool, chat("Book a flight to Rome")) == 0
    assert answer(pool, chat("please book a flight")) is None


def test_system_message_substring_list_and_regex():
    pool = pool_of({"systemMessage": ["persona: pirate", "lang: fr"]},
                   {"systemMessage": {"regex": "lang: (de|it)"}},
                   {"systemMessage": "terse"})
    sys = lambda *texts: F.from_messages([("system", t, None) for t in texts] + [("user", "hi", None)])
    assert answer(pool, sys("lang: fr", "persona: pirate")) == 0      # all present, any order
    assert answer(pool, sys("persona: pirate")) is None
    assert answer(pool, sys("lang: it")) == 1
    assert answer(pool, sys("be terse")) == 2
    assert answer(pool, chat("terse")) is None                       # no system text at all


def test_tool_name_tool_call_id_and_tool_result():
    pool = pool_of({"toolCallId": "call_1", "toolResultContains": '"cancelled"'},
                   {"toolCallId": "call_1"},
                   {"toolName": "get_weather"},
                   {"toolName": {"regex": "^search_"}})
    result = lambda text, cid="call_1": F.from_messages(
        [("user", "book it", None), ("assistant", None, None), ("tool", text, cid)])
    assert answer(pool, result('{"cancelled": true}')) == 0
    assert answer(pool, result('{"chosen_time": "9:00"}')) == 1
    assert answer(pool, result("x", "call_2")) is None
    assert answer(pool, chat(tool_names=["get_time", "get_weather"])) == 2
    assert answer(pool, chat(tool_names=["search_docs"])) == 3
    assert answer(pool, chat(tool_names=["weather"])) is None


def test_the_tool_call_id_must_be_the_last_message():
    pool = pool_of({"toolCallId": "call_1"})
    assert answer(pool, F.from_messages([("user", "a", None), ("assistant", None, None),
                                         ("tool", "r", "call_1"), ("assistant", "ok", None)])) is None


def test_has_tool_result_and_turn_index():
    pool = pool_of({"userMessage": "trip", "hasToolResult": True},
                   {"userMessage": "trip", "turnIndex": 0},
                   {"userMessage": "trip", "turnIndex": 2})
    first = F.from_messages([("user", "trip to mars", None)])
    after_tool = F.from_messages([("user", "trip to mars", None), ("assistant", None, None),
                                  ("tool", "done", "c1")])
    third = F.from_messages([("user", "trip", None), ("assistant", "a", None), ("user", "trip", None),
                             ("assistant", "b", None), ("user", "trip", None)])
    assert (answer(pool, first), answer(pool, after_tool), answer(pool, third)) == (1, 0, 2)


def test_model_matches_itself_and_its_dated_versions():
    pool = pool_of({"model": "gpt-4o"}, {"model": {"regex": "^claude-"}})
    assert answer(pool, chat(model="gpt-4o")) == 0
    assert answer(pool, chat(model="gpt-4o-2024-08-06")) == 0
    assert answer(pool, chat(model="gpt-4o-mini")) is None
    assert answer(pool, chat(model="gpt-4")) is None
    assert answer(pool, chat(model="claude-sonnet-4")) == 1
    assert answer(pool, chat(model=None)) is None


def test_response_format_context_and_input_text():
    pool = pool_of({"responseFormat": "json_object"}, {"context": "checkout"},
                   {"inputText": "gravity"}, responses={2: {"embedding": [1.0]}})
    assert answer(pool, chat(response_format="json_object")) == 0
    assert answer(pool, chat(response_format="json_schema")) is None
    assert answer(pool, chat(context="checkout")) == 1
    assert answer(pool, F("embedding", "text-embedding-3-small", input_text="what is gravity?")) == 2
    assert answer(pool, F("embedding", "m", input_text="orbits")) is None


def test_a_fixture_answers_only_the_endpoints_its_response_can():
    pool = pool_of({}, {}, {}, responses={0: {"embedding": [1.0]}, 1: {"content": "text"},
                                          2: {"error": {"message": "down"}}})
    assert answer(pool, F("embedding", "m", input_text="x")) == 0
    assert answer(pool, chat()) == 1
    pool = pool_of({"endpoint": "embedding"}, {}, responses={0: {"error": {"message": "down"}}})
    assert answer(pool, chat()) == 1
    assert answer(pool, F("embedding", "m", input_text="x")) == 0


def test_the_empty_match_catches_all_and_first_match_wins():
    pool = pool_of({"userMessage": "hello"}, {}, {"userMessage": "hello there"})
    assert answer(pool, chat("hello there")) == 0
    assert answer(pool, chat("anything")) == 1


def test_all_fields_are_anded():
    pool = pool_of({"userMessage": "hello", "model": "gpt-4o", "turnIndex": 0})
    assert answer(pool, chat("hello", model="gpt-4o")) == 0
    assert answer(pool, chat("hello", model="llama3")) is None
    assert answer(pool, F.from_messages([("user", "hi", None), ("assistant", "x", None),
                                         ("user", "hello", None)], model="gpt-4o")) is None


def test_fixtures_fastmock_cannot_serve_never_match():
    pool = pool_of({}, {}, responses={0: {"image": {"url": "u"}}})
    assert answer(pool, chat()) == 1
    pool = pool_of({"endpoint": "image"}, {"userMessage": "draw"},
                   responses={0: {"error": {"message": "x"}}})
    assert answer(pool, chat("draw")) == 1


# -- sequenceIndex ------------------------------------------------------------------------

def test_sequence_index_counts_matches_of_fixtures_with_the_same_conditions():
    pool = pool_of({"userMessage": "joke", "sequenceIndex": 0}, {"userMessage": "joke", "sequenceIndex": 1},
                   {"userMessage": "riddle", "sequenceIndex": 0}, {"userMessage": "joke"})
    assert [answer(pool, chat("a joke")) for _ in range(4)] == [0, 1, 3, 3]
    assert answer(pool, chat("a riddle")) == 2          # its own group, its own count
    assert answer(pool, chat("a riddle")) is None
    pool.reset_counters()
    assert [answer(pool, chat("a joke")) for _ in range(2)] == [0, 1]


def test_sequence_counters_are_kept_per_test_id():
    pool = pool_of({"userMessage": "joke", "sequenceIndex": 0}, {"userMessage": "joke", "sequenceIndex": 1})
    assert answer(pool, chat("joke", test_id="a")) == 0
    assert answer(pool, chat("joke", test_id="b")) == 0
    assert answer(pool, chat("joke", test_id="a")) == 1
    pool.reset_counters("a")
    assert answer(pool, chat("joke", test_id="a")) == 0
    assert answer(pool, chat("joke", test_id="b")) == 1


def test_a_fixture_that_fails_another_condition_does_not_count():
    pool = pool_of({"userMessage": "joke", "sequenceIndex": 0, "model": "gpt-4o"},
                   {"userMessage": "joke", "sequenceIndex": 1, "model": "gpt-4o"})
    assert answer(pool, chat("joke", model="llama3")) is None
    assert answer(pool, chat("joke", model="gpt-4o")) == 0


# -- fixtures added at run time -----------------------------------------------------------

def runtime(text: str, answer_text: str):
    return parse_document({"fixtures": [{"match": {"userMessage": text},
                                         "response": {"content": answer_text}}]}, "request body")


def test_run_time_fixtures_go_last_or_first():
    pool = pool_of({"userMessage": "hi"})
    pool.add(runtime("hi", "appended"))
    pool.add(runtime("hi", "prepended"), prepend=True)
    pool.add(runtime("hi", "prepended later"), prepend=True)
    assert pool.find(chat("hi")).response.content.text == "prepended later"
    assert [item["source"] for item in pool.listing()] == ["runtime", "runtime", "t.json#0", "runtime"]
    assert pool.remove_runtime() == 3
    assert [item["source"] for item in pool.listing()] == ["t.json#0"]
    assert answer(pool, chat("hi")) == 0


def test_a_batch_prepended_keeps_its_own_order():
    pool = pool_of({})
    batch = parse_document({"fixtures": [{"match": {"userMessage": "x"}, "response": {"content": "a"}},
                                         {"match": {}, "response": {"content": "b"}}]}, "body")
    pool.add(batch, prepend=True)
    assert pool.find(chat("x")).response.content.text == "a"
    assert pool.find(chat("y")).response.content.text == "b"


def test_run_time_fixtures_of_a_test_id_are_seen_by_that_test_only():
    pool = pool_of({})
    pool.add(runtime("hi", "for a"), prepend=True, test_id="a")
    pool.add(runtime("hi", "for b"), prepend=True, test_id="b")
    assert pool.find(chat("hi", test_id="a")).response.content.text == "for a"
    assert pool.find(chat("hi", test_id="b")).response.content.text == "for b"
    assert pool.find(chat("hi")).response.content.text == "0"
    assert [i.get("testId") for i in pool.listing("a")] == ["a", None]
    assert [i.get("testId") for i in pool.listing()] == [None]
    assert pool.remove_runtime("a") == 1
    assert pool.find(chat("hi", test_id="a")).response.content.text == "0"
    assert pool.find(chat("hi", test_id="b")).response.content.text == "for b"


def test_the_listing_shows_what_is_matched_on_and_what_is_answered():
    pool = pool_of({"userMessage": {"regex": "x"}}, {}, responses={1: {"video": {"id": "v"}}})
    assert pool.listing() == [
        {"index": 0, "source": "t.json#0", "match": {"userMessage": {"regex": "x"}}, "response": "text"},
        {"index": 1, "source": "t.json#1", "match": {}, "response": "video", "neverMatches": True},
    ]
    assert len(pool) == 2


# -- the index finds exactly what a plain scan finds --------------------------------------

def scan(pool: FixturePool, facts: RequestFacts):
    """Every visible fixture in order, checked in full: what find() must agree with."""
    for order in sorted(pool._fixtures):
        fixture = pool._fixtures[order]
        if pool._scopes.get(order) not in (None, facts.test_id) or fixture.match.never:
            continue
        if fixture.match.test(facts):
            return fixture
    return None


ALPHABET = "ab cé漢\U0001F600-_"


def random_text(rng, low, high):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


def test_the_index_agrees_with_a_plain_scan():
    rng = random.Random(1234)
    for _ in range(40):
        matches = []
        for _ in range(rng.randint(1, 60)):
            kind = rng.random()
            if kind < 0.6:
                matches.append({"userMessage": random_text(rng, 0, 9)})
            elif kind < 0.7:
                matches.append({"userMessage": random_text(rng, 1, 4), "model": rng.choice(["m", "n"])})
            elif kind < 0.8:
                matches.append({"model": rng.choice(["m", "m-2024", "n"])})
            elif kind < 0.9:
                matches.append({"toolCallId": rng.choice(["c1", "c2"])})
            else:
                matches.append({"userMessage": {"regex": random_text(rng, 1, 2).replace("\\", "")}})
        pool = pool_of(*matches)
        if rng.random() < 0.5:
            pool.add(runtime(random_text(rng, 3, 6), "rt"), prepend=rng.random() < 0.5,
                     test_id=rng.choice([None, "t"]))
        for _ in range(30):
            messages = [("user", random_text(rng, 0, 40), None)]
            if rng.random() < 0.2:
                messages += [("assistant", None, None), ("tool", "r", rng.choice(["c1", "c2"]))]
            facts = F.from_messages(messages, model=rng.choice(["m", "m-2024-01", "n", "x"]),
                                    test_id=rng.choice([None, "t"]))
            assert pool.find(facts) is scan(pool, facts), (matches, messages)


def test_needles_of_every_length_are_found_at_every_offset():
    for length in range(0, 12):
        needle = "abcdefghijk"[:length]
        pool = pool_of({"userMessage": needle})
        for offset in range(0, 6):
            for tail in ("", "z", "zz", "zzz"):
                assert answer(pool, chat("é" * offset + needle + tail)) == 0, (needle, offset, tail)
        if length:
            assert answer(pool, chat(needle[:-1])) is None


def test_many_short_needles_are_filed_by_narrow_grams_and_still_found():
    rng = random.Random(7)
    needles = sorted({random_text(rng, 5, 7) for _ in range(200)})
    pool = pool_of(*({"userMessage": n} for n in needles))
    _, narrow, short = pool._user.index.sizes()
    assert narrow and not short
    for _ in range(300):
        facts = chat(random_text(rng, 0, 60))
        assert pool.find(facts) is scan(pool, facts)
    for i, needle in enumerate(needles):
        assert answer(pool, chat("x" + needle)) == needles.index(next(n for n in needles if n in "x" + needle))


def test_fixtures_sharing_a_needle_are_all_indexed():
    pool = pool_of({"userMessage": "shared needle", "model": "a"}, {"userMessage": "shared needle", "model": "b"})
    assert answer(pool, chat("a shared needle", model="b")) == 1
    pool.add(runtime("shared needle", "rt"))
    assert pool.find(chat("shared needle", model="c")).response.content.text == "rt"
    assert answer(pool, chat("shared needle", model="a")) == 0


@pytest.mark.parametrize("text", ["", "a", "abcde", "x" * 1000])
def test_short_and_long_texts(text):
    pool = pool_of({"userMessage": "abcde"}, {"userMessage": "xyz"})
    expected = 0 if "abcde" in text else None
    assert answer(pool, chat(text)) == expected


def test_a_text_searched_again_finds_what_was_added_since():
    pool = pool_of({"userMessage": "the weather in Paris"}, {"userMessage": "zzz"})
    text = "what is the weather in Paris today?"
    assert answer(pool, chat(text)) == 0
    assert answer(pool, chat(text)) == 0                          # remembered
    pool.add(runtime("weather in Paris today", "new"), prepend=True)
    assert pool.find(chat(text)).response.content.text == "new"    # the new needle is seen
    pool.remove_runtime()
    assert answer(pool, chat(text)) == 0
    for i in range(200):                                           # bounded, oldest first out
        assert answer(pool, chat(f"{text} {i}")) == 0
    assert len(pool._user.seen) <= 64
    assert answer(pool, chat("x" * 5000 + " zzz")) == 1            # a long text is not kept
    assert all(len(t) <= 2048 for t in pool._user.seen)
