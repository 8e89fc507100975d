"""scripts/import_graph.py: no import cycle, and an engine that imports nothing of the app."""
from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "import_graph.py"


def load_script():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module      # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


import_graph = load_script()

def violations(package_dir) -> set[tuple]:
    graph = import_graph.build(str(package_dir))
    return ({("cycle", c.members) for c in import_graph.cycles(graph)}
            | {("engine", e.source, e.target) for e in import_graph.engine_violations(graph)})


def run_script(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def package(tmp_path, files: dict[str, str]) -> pathlib.Path:
    """A package "pkg" in tmp_path made of ``files`` (path in the package -> source)."""
    root = tmp_path / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


# -- fastmock ----------------------------------------------------------------------------

def test_fastmock_passes_the_check():
    """Issue 12: no import cycle, and an engine that imports nothing of the app."""
    assert violations(ROOT / "fastmock") == set()
    result = run_script()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_graph_lists_every_module_once_in_order():
    graph = run_script().stdout.split("\nimport cycles:")[0].splitlines()[1:]
    modules = [line.split(" -> ")[0].strip() for line in graph if line.startswith("  ")]
    assert modules == sorted(set(modules))
    assert {"fastmock", "fastmock._engine", "fastmock.engine.connection", "fastmock.protocol"} <= set(modules)


# -- the script, on small packages ------------------------------------------------------------

def test_a_module_level_cycle_fails(tmp_path):
    root = package(tmp_path, {"a.py": "from pkg import b\n\ndef f():\n    import pkg.c\n",
                              "b.py": "from . import a\n", "c.py": "import pkg.a\n"})
    [cycle] = import_graph.cycles(import_graph.build(str(root)))
    # a lazy import (a -> c) widens the group; the cycle a <-> b is still module-level
    assert cycle.members == {"pkg.a", "pkg.b", "pkg.c"} and not cycle.lazy
    assert cycle.path == ("pkg.a", "pkg.b", "pkg.a")
    result = run_script(root)
    assert result.returncode == 1
    assert "  pkg.a -> pkg.b -> pkg.a\n" in result.stdout and result.stdout.endswith("FAIL\n")


def test_a_cycle_through_a_lazy_import_is_reported_as_lazy_and_fails(tmp_path):
    root = package(tmp_path, {
        "a.py": "import pkg.b\n",
        "b.py": "from pkg.c import thing\n",
        "c.py": """\
            thing = 1

            class Late:
                def method(self):
                    from pkg import a   # only when called
                    return a
            """,
    })
    [cycle] = import_graph.cycles(import_graph.build(str(root)))
    assert cycle.lazy and cycle.path == ("pkg.a", "pkg.b", "pkg.c", "pkg.a")
    result = run_script(root)
    assert result.returncode == 1
    assert "  pkg.c -> pkg.a (lazy)\n" in result.stdout
    assert "pkg.a -> pkg.b -> pkg.c -> pkg.a   (closes only through a lazy import)" in result.stdout


def test_the_engine_imports_only_itself_the_stdlib_httptools_and_uvloop(tmp_path):
    root = package(tmp_path, {
        "app.py": "X = 1\n",
        "routes.py": "Y = 2\n",
        "_engine.pyx": 'include "engine/conn.pyx"\ninclude "engine/pacer.pyx"\n',
        "_engine.pxd": "from libc.stdint cimport uint64_t\n",
        "engine/pacer.pyx": "import time\nfrom pkg._engine cimport uint64_t\n",
        "engine/conn.pyx": '''\
            # cython: language_level=3
            """A connection. Not an import: from pkg import app
            import pkg.routes
            """
            import logging   # import pkg.app (a comment)
            from cpython.bytes cimport PyBytes_AS_STRING
            from libc.string cimport memcpy
            from httptools import HttpParserError, HttpRequestParser
            import uvloop
            from pkg import app

            text = "from pkg import routes"

            cdef class Conn:
                cdef int state

                cdef inline int parse(self,
                                      bytes data) except -1:
                    from pkg.routes import (
                        Y,
                    )
                    return 0
            ''',
        "engine/numbers.pyx": "import numpy\n",
    })
    graph = import_graph.build(str(root))
    bad = import_graph.engine_violations(graph)
    assert {(e.source, e.target, e.line, e.lazy) for e in bad} == {
        ("pkg.engine.conn", "pkg.app", 10, False),
        ("pkg.engine.conn", "pkg.routes", 19, True),
        ("pkg.engine.numbers", "numpy", 1, False),
    }
    assert graph.internal()["pkg._engine"] == {"pkg.engine.conn", "pkg.engine.pacer"}
    result = run_script(root)
    assert result.returncode == 1
    assert "  pkg.engine.conn:19 imports pkg.routes (lazy)\n" in result.stdout
    assert "  pkg._engine -> pkg.engine.conn (include), pkg.engine.pacer (include)\n" in result.stdout


def test_a_clean_package_passes_and_lists_what_it_cannot_follow(tmp_path):
    root = package(tmp_path, {
        "a.py": "import importlib\n\ndef load(name):\n    return importlib.import_module('pkg.' + name)\n",
        "b.py": "import importlib\n\ndef load():\n    return importlib.import_module('pkg.a')\n",
        "sub/__init__.py": "from .. import a\nfrom . import leaf\n",
        "sub/leaf.py": "",
    })
    graph = import_graph.build(str(root))
    assert graph.internal() == {"pkg": set(), "pkg.a": set(), "pkg.b": {"pkg.a"},
                                "pkg.sub": {"pkg.a", "pkg.sub.leaf"}, "pkg.sub.leaf": set()}
    result = run_script(root)
    assert result.returncode == 0, result.stdout
    assert "  pkg.b -> pkg.a (lazy)\n" in result.stdout
    assert "not followed (a computed module name): pkg.a:4\n" in result.stdout
    assert result.stdout.endswith("import cycles: none\n"
                                  "engine imports outside the engine, stdlib, httptools and uvloop: none\n"
                                  "OK\n")
