"""Every package of fastmock ships in the wheel: pyproject's explicit package list names each
directory that has an __init__.py (fastmock.chaos was once left out, and the wheel's
server answered a stream with a control with 500)."""
from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_package_is_in_pyprojects_list():
    text = (ROOT / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(fastmock[\w.]*)"', re.search(r"^packages = \[(.*?)\]", text, re.M).group(1)))
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "fastmock").rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert listed == found
