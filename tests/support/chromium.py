"""Debian's headless Chromium as a subprocess (no webdriver, no downloaded browser), and a
parsed view of the DOM it dumps: what the dashboard's test reads."""
from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

NAMES = ("chromium", "chromium-browser")


def find() -> str | None:
    """The Chromium command, or None when none is installed (scripts/test installs it)."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def dump_dom(url: str, profile: str, *, budget_ms: int = 3000, timeout: float = 90.0) -> str:
    """The DOM of ``url`` once the page's scripts have run for ``budget_ms`` of virtual time
    (timers fire early; a fetch in flight holds virtual time until it is answered)."""
    command = [find(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--disable-background-networking",
               f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
               "--dump-dom", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-2000:]
    return done.stdout


class Node:
    """One element: its tag, attributes and text (its descendants' text included)."""

    __slots__ = ("tag", "attrs", "text")

    def __init__(self, tag: str, attrs: dict) -> None:
        self.tag, self.attrs, self.text = tag, attrs, ""

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs} {self.text!r}>"


class Dom(HTMLParser):
    """Every element of a document, in document order."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                      "source", "track", "wbr"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[Node] = []
        self._open: list[Node] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        node = Node(tag, dict(attrs))
        self.nodes.append(node)
        if tag not in self.VOID:
            self._open.append(node)

    def handle_startendtag(self, tag, attrs) -> None:
        self.nodes.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data) -> None:
        for node in self._open:
            node.text += data

    def find(self, **attrs) -> list[Node]:
        """The elements whose attributes have these values (``data_x`` is ``data-x``; a value
        of None: the attribute is there, whatever its value)."""
        want = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [node for node in self.nodes
                if all(name in node.attrs and (value is None or node.attrs[name] == value)
                       for name, value in want.items())]

    def one(self, **attrs) -> Node:
        found = self.find(**attrs)
        assert len(found) == 1, (attrs, found)
        return found[0]
