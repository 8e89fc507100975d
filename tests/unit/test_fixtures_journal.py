"""The request journal: bounded in entries and bytes, bodies capped, filtered and paged, free when off."""
import json
import tracemalloc

import pytest

from fastmock.fixtures.journal import Journal


def record(journal: Journal, i: int, **kw):
    kw.setdefault("body", json.dumps({"model": "m", "n": i}).encode())
    return journal.record(f"req-{i}", "POST", kw.pop("path", "/v1/chat/completions"), **kw)


def test_an_entry_shows_the_request_and_the_answer():
    journal = Journal()
    entry = journal.record("req-1", "POST", "/v1/chat/completions", b'{"model": "gpt-4o"}',
                           model="gpt-4o", test_id="t1", fixture="f.json#0")
    entry.status, entry.tokens, entry.ttft_ms = 200, 12, 3.5
    total, [shown] = journal.query()
    assert total == 1
    assert shown.pop("time") == pytest.approx(entry.time)
    assert shown == {"id": "req-1", "method": "POST", "path": "/v1/chat/completions", "model": "gpt-4o",
                     "testId": "t1", "fixture": "f.json#0", "status": 200, "tokens": 12,
                     "ttftMs": 3.5, "body": {"model": "gpt-4o"}}


def test_a_body_is_capped_and_says_so():
    journal = Journal(body_cap=10)
    journal.record("r", "POST", "/x", "é".encode() * 20)
    _, [shown] = journal.query()
    assert shown["bodyTruncated"] is True and shown["bodySize"] == 40
    assert shown["body"] == "é" * 5                        # 10 bytes, decoded
    journal = Journal(body_cap=11)
    journal.record("r", "POST", "/x", "é".encode() * 20)
    assert journal.query()[1][0]["body"] == "é" * 5 + "\ufffd"   # a character cut in two


def test_a_body_that_is_not_json_is_shown_as_text():
    journal = Journal()
    journal.record("r", "GET", "/x", b"not json")
    journal.record("s", "GET", "/y")
    bodies = [e["body"] for e in journal.query()[1]]
    assert bodies == ["", "not json"]


def test_entries_are_bounded_and_the_oldest_go_first():
    journal = Journal(max_entries=3)
    for i in range(5):
        record(journal, i)
    assert len(journal) == 3
    assert [e["id"] for e in journal.query()[1]] == ["req-4", "req-3", "req-2"]     # newest first


def test_bytes_are_bounded_whatever_the_bodies():
    journal = Journal(max_entries=1000, max_bytes=20_000, body_cap=4096)
    for i in range(200):
        journal.record(f"r{i}", "POST", "/v1/chat/completions", b"x" * 100_000)
    assert journal.bytes <= 20_000
    assert 3 <= len(journal) <= 4                          # 4 KiB bodies: about four fit
    assert all(len(e.body) == 4096 for e in journal._entries)


def test_the_defaults_fit_well_inside_the_memory_budget():
    journal = Journal()
    for i in range(5000):
        journal.record(f"r{i}", "POST", "/v1/chat/completions", b"x" * 100_000, model="m" * 100)
    assert journal.bytes <= 1 << 20 and len(journal) <= 1000


@pytest.mark.parametrize("body_size", [0, 300, 5000])
def test_what_the_journal_counts_is_at_least_what_it_holds(body_size):
    tracemalloc.start()
    journal = Journal()
    for i in range(3000):
        entry = journal.record(f"req-{i:024x}", "POST", f"/v1/chat/completions?n={i}",
                               b"x" * body_size + b"%d" % i, model=f"gpt-4o-{i}", test_id=f"test-{i}",
                               fixture="fixtures.json#1")
        entry.status, entry.tokens, entry.ttft_ms = 200, 1000 + i, 1.5 * i
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held <= journal.bytes * 1.05


def test_filters_limit_offset_and_total():
    journal = Journal()
    for i in range(10):
        record(journal, i, path="/v1/messages" if i % 2 else "/v1/chat/completions",
               model="claude" if i % 2 else "gpt", test_id="a" if i < 5 else "b")
    total, page = journal.query(path="messages")
    assert total == 5 and [e["id"] for e in page] == ["req-9", "req-7", "req-5", "req-3", "req-1"]
    assert journal.query(model="gpt", test_id="a")[0] == 3
    assert journal.query(request_id="req-4")[1][0]["id"] == "req-4"
    total, page = journal.query(limit=2, offset=3)
    assert total == 10 and [e["id"] for e in page] == ["req-6", "req-5"]
    assert journal.query(limit=0) == (10, [])
    assert journal.query(offset=50) == (10, [])
    with pytest.raises(ValueError):
        journal.query(limit=-1)


def test_clear_everything_or_one_tests_entries():
    journal = Journal()
    for i in range(4):
        record(journal, i, test_id="a" if i < 2 else "b")
    journal.clear("a")
    assert [e["testId"] for e in journal.query()[1]] == ["b", "b"]
    assert journal.bytes == sum(e.size for e in journal._entries)
    journal.clear()
    assert len(journal) == 0 and journal.bytes == 0


def test_a_journal_of_size_zero_keeps_nothing():
    journal = Journal(max_entries=0)
    assert not journal.enabled
    assert journal.record("r", "POST", "/x", b"x" * 1000) is None
    assert journal.query() == (0, [])


def test_limits_must_not_be_negative():
    with pytest.raises(ValueError):
        Journal(max_entries=-1)
