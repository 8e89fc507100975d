"""aimock (npm @copilotkit/aimock), the optional baseline of the provider phases (--aimock).

Installed only when asked, into bench/.aimock (git-ignored) with
`npm install --prefix bench/.aimock @copilotkit/aimock`; node and npm come from apt when
missing. It is started with a fixture file that answers the bench's requests as fastmock
does: the same corpus text for every chat, completion, Responses, Anthropic and Ollama
request, and one fixed 1,536-number vector for embeddings.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess

from .log import log
from .providers import DIMENSIONS, EMBEDDINGS_MODEL
from .tools import BENCH, apt_install

PREFIX = os.path.join(BENCH, ".aimock")
CLI = os.path.join(PREFIX, "node_modules", "@copilotkit", "aimock", "dist", "cli.js")
PHASES = {"provider", "embeddings"}   # its streams ignore token limits: no short_stream
NODE_MIN = (20, 15)                     # the package's engines field


def _node_version(node: str) -> tuple[int, ...]:
    r = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    m = re.match(r"v(\d+)\.(\d+)", r.stdout.strip())
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def ensure(args) -> str:
    """the node command line of aimock's CLI, installing node, npm and aimock when missing"""
    node = shutil.which("node")
    if os.path.exists(CLI) and node:
        return f"{node} {CLI}"
    if (not node or not shutil.which("npm")) and not apt_install(args, "npm", "node/npm is missing (for aimock)"):
        raise SystemExit("bench: --aimock needs node (>= 20.15) and npm: install them (apt-get install -y npm) "
                         "or drop --aimock")
    node = shutil.which("node")
    if _node_version(node) < NODE_MIN:
        raise SystemExit(f"bench: aimock needs node >= {'.'.join(map(str, NODE_MIN))}; {node} is older")
    if not os.path.exists(CLI):
        if args.no_install:
            raise SystemExit(f"bench: aimock is not installed; run `npm install --prefix {PREFIX} "
                             "@copilotkit/aimock` or drop --no-install")
        log(f"installing aimock: npm install --prefix {os.path.relpath(PREFIX)} @copilotkit/aimock")
        r = subprocess.run(["npm", "install", "--prefix", PREFIX, "--no-audit", "--no-fund", "@copilotkit/aimock"],
                           timeout=600)
        if r.returncode != 0 or not os.path.exists(CLI):
            raise SystemExit("bench: installing aimock with npm failed")
    return f"{node} {CLI}"


def version() -> str | None:
    try:
        with open(os.path.join(os.path.dirname(os.path.dirname(CLI)), "package.json")) as f:
            return json.load(f).get("version")
    except (OSError, ValueError):
        return None


def corpus() -> str:
    """fastmock's built-in answer text (1,169 characters, 209 tokens at the time of writing),
    or, when fastmock is not importable here, a text of that length"""
    try:
        from fastmock.frames import DEFAULT_TEXT
        return DEFAULT_TEXT
    except ImportError:
        text = "Streaming is how large language models feel fast. "
        return (text * 23)[:1169]


def write_fixture(path: str) -> str:
    """aimock's fixture file: the embedding first (matched by model), then a catch-all
    that answers every other request with fastmock's corpus text"""
    vector = [round(math.sin(i + 1) / math.sqrt(DIMENSIONS / 2), 6) for i in range(DIMENSIONS)]
    doc = {"fixtures": [
        {"match": {"model": EMBEDDINGS_MODEL}, "response": {"embedding": vector}},
        {"match": {}, "response": {"content": corpus()}},
    ]}
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def command(args) -> str:
    """the server command for the runner: aimock on {host}:{port} with the bench's fixture"""
    fixture = write_fixture(os.path.join(args.logdir, "aimock-fixture.json"))
    return f"{ensure(args)} --host {{host}} --port {{port}} --fixtures {fixture} --log-level warn"
