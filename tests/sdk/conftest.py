"""The official clients come with the ``sdk`` extra: without one, its tests are not collected
(the header says so), and under CI=true that is an error. The server the scripted SDK tests share."""
from __future__ import annotations

import importlib.util
import json
import os

import pytest

from support.apis import close_opened
from support.scripted import AGENT
from support.server import LiveServer

CLIENTS = {"test_sdk_openai.py": "openai", "test_sdk_anthropic.py": "anthropic",
           "test_sdk_ollama.py": "ollama", "test_sdk_structured.py": "openai",
           "test_sdk_pytest_plugin.py": "openai", "test_sdk_fidelity.py": "openai",
           "test_sdk_chaos.py": "httpx_sse", "test_sdk_ratelimit.py": "anthropic",
           "test_sdk_azure.py": "openai", "test_sdk_gemini.py": "google.genai",
           "test_sdk_cohere.py": "cohere", "test_sdk_bedrock.py": "boto3"}
def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:     # a dotted name whose package is missing (google.genai)
        return False


MISSING = sorted(name for name in set(CLIENTS.values()) if not _installed(name))
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"required in CI: {', '.join(MISSING)} (pip install -e '.[sdk]')")
collect_ignore = [test for test, name in CLIENTS.items() if name in MISSING]


def pytest_report_header(config) -> str | None:
    if MISSING:
        return f"not collected: the tests of {', '.join(MISSING)} (pip install -e '.[sdk]')"
    return None


@pytest.fixture(scope="module")
def agent_server(tmp_path_factory):
    """One server per module answering from support.scripted.AGENT; the SDK clients its tests
    opened are closed before it stops (not the plain ``server`` fixture: that one is unscripted)."""
    path = tmp_path_factory.mktemp("sdk-fixtures") / "agent.json"
    path.write_text(json.dumps(AGENT))
    live = LiveServer("--delay-ms", "0", "--fixtures", str(path))
    yield live
    close_opened()
    live.stop_cleanly()
