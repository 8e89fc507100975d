"""The official clients come with the ``sdk`` extra: without one, its tests are not collected
(the header says so), and under CI=true that is an error."""
from __future__ import annotations

import importlib.util
import os

CLIENTS = {"test_sdk_openai.py": "openai", "test_sdk_anthropic.py": "anthropic",
           "test_sdk_ollama.py": "ollama", "test_sdk_structured.py": "openai",
           "test_sdk_pytest_plugin.py": "openai"}
MISSING = sorted(name for name in CLIENTS.values() if importlib.util.find_spec(name) is None)
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"required in CI: {', '.join(MISSING)} (pip install -e '.[sdk]')")
collect_ignore = [test for test, name in CLIENTS.items() if name in MISSING]


def pytest_report_header(config) -> str | None:
    if MISSING:
        return f"not collected: the tests of {', '.join(MISSING)} (pip install -e '.[sdk]')"
    return None
