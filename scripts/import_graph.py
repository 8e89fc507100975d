#!/usr/bin/env python3
"""Print fastmock's internal import graph; fail on an import cycle or an engine that reaches into the app.

    scripts/import_graph.py [PACKAGE_DIR]      (default: the fastmock package next to this script)

Every module of the package is read, never imported: the AST of each .py, and the
import, cimport and include lines of each .pyx/.pxd. An import inside a function is
"lazy" (it runs on first call); everything else (module level, class bodies, a
module-level try or if) runs at import.

It exits 1 when
- there is an import cycle. Cycles that close only through a lazy import count too:
  a lazy import hides a cycle from the import system, not from the reader;
- the engine (PACKAGE/engine/ and PACKAGE/_engine.pyx/.pxd) imports anything but
  itself, the standard library, Cython's C namespaces, httptools and uvloop, lazily
  or not: it knows HTTP/1.1 and StreamSpec objects, never routes, providers or wording.

Imports it cannot follow (importlib.import_module or __import__ of a computed name)
are listed, not failed. Only the standard library is used.
"""
from __future__ import annotations

import ast
import os
import re
import sys
from dataclasses import dataclass, field

# What the engine may import besides itself: the standard library, Cython's C namespaces, and
# the two libraries it is built on.
ENGINE_MAY_IMPORT = frozenset(sys.stdlib_module_names) | {
    "cython", "libc", "libcpp", "posix", "cpython", "httptools", "uvloop"}
SOURCE_SUFFIXES = (".py", ".pyx", ".pxd")


@dataclass(frozen=True)
class Edge:
    """One import statement's dependency: ``source`` needs ``target``."""

    source: str
    target: str            # a module of the package, or an outside top-level name
    line: int
    lazy: bool             # inside a function: runs on first call, not at import
    how: str = "import"    # import, cimport or include
    internal: bool = True  # target is a module of the package

    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class Graph:
    """The package's modules and every import edge between them (and to the outside)."""

    package: str
    files: dict[str, list[str]] = field(default_factory=dict)    # module -> its source files
    edges: list[Edge] = field(default_factory=list)
    dynamic: list[str] = field(default_factory=list)             # "module:line" not followed

    def internal(self, lazy: bool = True) -> dict[str, set[str]]:
        """module -> the package modules it imports (module-level ones only unless ``lazy``)."""
        out: dict[str, set[str]] = {m: set() for m in self.files}
        for e in self.edges:
            if e.internal and (lazy or not e.lazy):
                out[e.source].add(e.target)
        return out


@dataclass(frozen=True)
class Cycle:
    members: frozenset[str]   # the strongly connected modules
    path: tuple[str, ...]     # one cycle through them, first module repeated at the end
    lazy: bool                # exists only through at least one lazy import

    def __str__(self) -> str:
        return " -> ".join(self.path)


# -- reading the sources ---------------------------------------------------------------

def module_name(package_dir: str, path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(package_dir))
    parts = rel[:rel.rindex(".")].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(package_dir: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for folder, dirs, names in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(names):
            if name.endswith(SOURCE_SUFFIXES):
                path = os.path.join(folder, name)
                found.setdefault(module_name(package_dir, path), []).append(path)
    return found


def python_imports(source: str):
    """(line, lazy, how, module, names, level) of each import in a .py; names None for ``import X``.

    An importlib.import_module/__import__ call is ("dynamic", None, its argument's AST).
    """
    found = []

    def visit(node, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append((child.lineno, lazy, "import", alias.name, None, 0))
            elif isinstance(child, ast.ImportFrom):
                found.append((child.lineno, lazy, "import", child.module or "",
                              [a.name for a in child.names], child.level))
            elif isinstance(child, ast.Call) and _is_dynamic_import(child.func):
                found.append((child.lineno, lazy, "dynamic", None,
                              child.args[0] if child.args else None, 0))
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def _is_dynamic_import(func) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "__import__"
    return (isinstance(func, ast.Attribute) and func.attr == "import_module"
            and isinstance(func.value, ast.Name) and func.value.id == "importlib")


INCLUDE = re.compile(r"""^include\s+(['"])(.+?)\1""", re.M)
FROM = re.compile(r"^from\s+(\.*)([\w.]*)\s+(c?import)\s+(.+)$")
IMPORT = re.compile(r"^(c?import)\s+(.+)$")
FUNCTION = re.compile(r"^(async\s+def|def|cpdef)\b|^cdef\b(?!\s+(class|extern|struct|union|enum|cppclass)\b).*\(")


def _blank_strings_and_comments(text: str) -> str:
    """The code with every string literal emptied and every comment dropped; lines kept."""
    out, i, n, pending = [], 0, len(text), 0
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "'\"":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j) and not (len(quote) == 1 and text[j] == "\n"):
                j += 2 if text[j] == "\\" else 1
            pending += text.count("\n", i, j)   # a triple-quoted string's lines: kept for numbering
            out.append(c + c)
            i = j + len(quote)
        elif c == "\n":
            out.append("\n" * (1 + pending))
            pending = 0
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _logical_lines(code: str):
    """(line number, indent, code) of each logical line, brackets and backslashes joined."""
    lines = code.split("\n")
    i = 0
    while i < len(lines):
        start, text = i, lines[i]
        depth = _depth(text)
        while (depth > 0 or text.rstrip().endswith("\\")) and i + 1 < len(lines):
            i += 1
            text = text.rstrip().rstrip("\\") + " " + lines[i]
            depth += _depth(lines[i])
        if text.strip():
            yield start + 1, len(lines[start]) - len(lines[start].lstrip()), text.strip()
        i += 1


def _depth(text: str) -> int:
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def cython_imports(source: str):
    """The same tuples as python_imports, from a .pyx/.pxd; an include is ("include", path)."""
    found = []
    for match in INCLUDE.finditer(source):
        found.append((source.count("\n", 0, match.start()) + 1, False, "include", None,
                      match.group(2), 0))
    blocks: list[tuple[int, bool]] = []     # (indent, is a function) of each open block
    for line, indent, text in _logical_lines(_blank_strings_and_comments(source)):
        while blocks and blocks[-1][0] >= indent:
            blocks.pop()
        lazy = any(is_function for _, is_function in blocks)
        for statement in text.split(";"):
            statement = statement.strip()
            if match := FROM.match(statement):
                names = [n.split()[0] for n in match.group(4).strip("() ").split(",") if n.strip()]
                found.append((line, lazy, match.group(3), match.group(2), names, len(match.group(1))))
            elif match := IMPORT.match(statement):
                for part in match.group(2).split(","):
                    found.append((line, lazy, match.group(1), part.split()[0], None, 0))
        if text.endswith(":"):
            blocks.append((indent, bool(FUNCTION.match(text))))
    return found


# -- building the graph ------------------------------------------------------------------

def build(package_dir: str) -> Graph:
    package_dir = os.path.abspath(package_dir)
    graph = Graph(os.path.basename(package_dir), find_modules(package_dir))
    for module, paths in graph.files.items():
        for path in paths:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            is_package = os.path.basename(path).startswith("__init__.")
            reader = python_imports if path.endswith(".py") else cython_imports
            for line, lazy, how, name, names, level in reader(source):
                if how == "include":
                    included = os.path.join(os.path.dirname(path), names)
                    graph.edges.append(Edge(module, module_name(package_dir, included), line,
                                            False, "include"))
                elif how == "dynamic":
                    _dynamic(graph, module, line, lazy, names)
                else:
                    for target in _targets(graph, module, is_package, name, names, level):
                        graph.edges.append(Edge(module, target, line, lazy, how,
                                                internal=target in graph.files))
    return graph


def _dynamic(graph: Graph, module: str, line: int, lazy: bool, arg) -> None:
    """importlib.import_module("x") is an edge like any other; a computed name is listed."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        for target in _targets(graph, module, False, arg.value, None, 0):
            graph.edges.append(Edge(module, target, line, lazy, "import", target in graph.files))
    else:
        graph.dynamic.append(f"{module}:{line}")


def _targets(graph: Graph, module: str, is_package: bool, name: str, names, level: int) -> list[str]:
    """The modules an import statement needs: package modules when it names them."""
    if level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (level - 1)]
        name = ".".join(base + ([name] if name else []))
    top = name.split(".")[0]
    if top != graph.package:
        return [top]
    if names is not None:
        submodules = [f"{name}.{n}" for n in names if f"{name}.{n}" in graph.files]
        if len(submodules) == len(names):
            return submodules
        return submodules + [_nearest(graph, name)]
    return [_nearest(graph, name)]


def _nearest(graph: Graph, name: str) -> str:
    """The module itself, or its closest enclosing package that exists."""
    parts = name.split(".")
    while len(parts) > 1 and ".".join(parts) not in graph.files:
        parts.pop()
    return ".".join(parts)


# -- checks ------------------------------------------------------------------------------

def cycles(graph: Graph) -> list[Cycle]:
    """Each strongly connected group of modules, with one cycle through it."""
    full = graph.internal(lazy=True)
    eager_groups = _strongly_connected(graph.internal(lazy=False))
    found = []
    for group in _strongly_connected(full):
        lazy = not any(eager <= group for eager in eager_groups)
        found.append(Cycle(group, _shortest_cycle(full, min(group), group), lazy))
    return sorted(found, key=lambda c: c.path)


def _strongly_connected(adjacency: dict[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan's algorithm; only groups that are cycles (two or more modules, or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(adjacency.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in adjacency.get(node, ()):
                groups.append(frozenset(group))

    for node in sorted(adjacency):
        if node not in index:
            visit(node)
    return groups


def _shortest_cycle(adjacency: dict[str, set[str]], start: str, group: frozenset[str]) -> tuple[str, ...]:
    parents: dict[str, str] = {}
    queue = [start]
    for node in queue:
        for nxt in sorted(adjacency[node] & group):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return (*reversed(path), start)
            if nxt not in parents:
                parents[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")


def is_engine(graph: Graph, module: str) -> bool:
    return module == f"{graph.package}._engine" or module.startswith(f"{graph.package}.engine.")


def engine_violations(graph: Graph) -> list[Edge]:
    """Edges from the engine to the app, or to a library other than httptools and uvloop."""
    return [e for e in graph.edges if is_engine(graph, e.source) and not (
        is_engine(graph, e.target) if e.internal else e.target in ENGINE_MAY_IMPORT)]


# -- the report --------------------------------------------------------------------------

def report(graph: Graph) -> tuple[list[str], bool]:
    """The printed lines, and whether every check passed."""
    lines = [f"{graph.package} import graph: module -> the {graph.package} modules it imports "
             "(lazy: only inside a function)"]
    for module in sorted(graph.files):
        targets: dict[str, str] = {}
        for e in graph.edges:
            if e.source == module and e.internal:
                label = "include" if e.how == "include" else ("lazy" if e.lazy else "")
                if targets.get(e.target, "lazy") == "lazy":   # a module-level import wins
                    targets[e.target] = label
        shown = [f"{t} ({label})" if label else t for t, label in sorted(targets.items())]
        lines.append(f"  {module} -> {', '.join(shown) or '-'}")
    if graph.dynamic:
        lines.append(f"not followed (a computed module name): {', '.join(graph.dynamic)}")

    found = cycles(graph)
    lines.append(f"import cycles: {len(found) or 'none'}")
    for cycle in found:
        lines.append(f"  {cycle}" + ("   (closes only through a lazy import)" if cycle.lazy else ""))
    bad = engine_violations(graph)
    lines.append(f"engine imports outside the engine, stdlib, httptools and uvloop: {len(bad) or 'none'}")
    for e in bad:
        lines.append(f"  {e.where()} imports {e.target}" + (" (lazy)" if e.lazy else ""))
    ok = not found and not bad
    lines.append("OK" if ok else "FAIL")
    return lines, ok


def main(argv: list[str]) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    package_dir = argv[1] if len(argv) > 1 else os.path.join(here, "..", "fastmock")
    if len(argv) > 2 or not os.path.isdir(package_dir):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    lines, ok = report(build(package_dir))
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
