"""The pytest plugin (fastmock.pytest_plugin, entry point pytest11) as a project uses it: a test
file run by pytester in a subprocess, the openai SDK configured only by the environment."""
from __future__ import annotations

import pytest

USES_IT = '''
import openai
from pydantic import BaseModel


class Answer(BaseModel):
    text: str
    confidence: float


def test_chat(fastmock):
    assert fastmock.url.startswith("http://127.0.0.1:")
    added = fastmock.add(match={"userMessage": "weather"}, response={"content": "Sunny."})
    assert added["added"] == 1 and len(fastmock.fixtures()) == 1
    with openai.OpenAI(max_retries=0) as client:       # OPENAI_BASE_URL and the key: the plugin's
        reply = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "What is the weather?"}])
        parsed = client.chat.completions.parse(
            model="gpt-4o", messages=[{"role": "user", "content": "Answer."}],
            response_format=Answer)
    assert reply.choices[0].message.content
    assert isinstance(parsed.choices[0].message.parsed, Answer)
    entries = fastmock.journal()
    assert [e["path"] for e in entries] == ["/v1/chat/completions"] * 2
    assert entries[1]["body"]["messages"][0]["content"] == "What is the weather?"
    assert fastmock.journal(model="gpt-4o", limit=1)[0]["id"] == entries[0]["id"]


def test_the_next_test_starts_clean(fastmock):
    assert fastmock.journal() == [] and fastmock.fixtures() == []


def test_environment(fastmock):
    import os
    assert os.environ["OPENAI_BASE_URL"] == fastmock.url + "/v1"
    assert os.environ["ANTHROPIC_BASE_URL"] == fastmock.url
    assert os.environ["OLLAMA_HOST"] == fastmock.url
'''

IGNORES_IT = '''
import sys


def test_nothing_was_loaded():
    assert "fastmock.server" not in sys.modules and "fastmock._engine" not in sys.modules
    assert "fastmock.pytest_plugin" in sys.modules      # loaded through its entry point
'''


def test_a_project_uses_the_fastmock_fixture(pytester: pytest.Pytester):
    pytester.makepyfile(test_app=USES_IT)
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_project_that_does_not_use_it_starts_no_server(pytester: pytest.Pytester):
    pytester.makepyfile(test_other=IGNORES_IT)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
