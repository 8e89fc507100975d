"""The LLM benchmarking tools as clients of fastmock (issue 16, point 6).

fastmock runs with known latencies (``--ttft constant:200ms --itl constant:40ms``) and
every answer is exactly 100 tokens (``ignore_eos`` with ``max_tokens``/
``max_completion_tokens``); each tool measures it as it would measure a model server,
and its reported TTFT, inter-token latency and output tokens per request are set
against the configured values (within 5%). Where a tool counts tokens itself it is
given the tokenizer ``fastmock tokenizer`` writes, offline (HF_HUB_OFFLINE=1,
TRANSFORMERS_OFFLINE=1): nothing comes from a model hub.

    python bench/tools.py --install     # the tools into bench/.tools/ (venvs; ~5-15 min)
    python bench/tools.py               # run them; writes bench/results/tools/

Run it with the Python that has fastmock installed (the project's .venv). The tools:

- ``vllm`` — ``vllm bench serve``'s request functions, unmodified, from
  ``vllm/benchmarks/lib/endpoint_request_func.py`` in vLLM's sdist on PyPI (vLLM itself
  is not installed: it pins torch and CUDA); bench/tools_clients/vllm_serve.py drives
  them as serve.py does, on /v1/chat/completions and /v1/completions.
- ``guidellm`` — the ``guidellm`` CLI from PyPI.
- ``aiperf`` — the ``aiperf`` CLI from PyPI.
- ``llmperf`` — ray-project/llmperf is not on PyPI; its OpenAI chat client and its
  arithmetic are reproduced in bench/tools_clients/llmperf_chat.py.

Every run is bounded in time (--timeout per tool) and talks only to 127.0.0.1.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(BENCH, ".tools")
OUT = os.path.join(BENCH, "results", "tools")
TTFT_MS, ITL_MS, OUTPUT_TOKENS, INPUT_TOKENS = 200.0, 40.0, 100, 64
REQUESTS, CONCURRENCY = 24, 4
MODEL = "mock-model"
SERVER_FLAGS = ["--ttft", f"constant:{TTFT_MS:g}ms", "--itl", f"constant:{ITL_MS:g}ms",
                "--model", MODEL, "--completions-finish-on-last-token"]
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
TOLERANCE = 0.05
# The cached snapshot AIPerf loads its tokenizer from (see aiperf_tokenizer)
AIPERF_REPO, AIPERF_COMMIT = "fastmock/tokenizer", "f" * 40
VLLM_FILE = os.path.join(TOOLS, "vllm", "endpoint_request_func.py")


def log(msg: str) -> None:
    print(f"[tools {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def venv_python(name: str) -> str:
    return os.path.join(TOOLS, name, "bin", "python")


# -- --install --------------------------------------------------------------------------

def pip_constraints() -> list[str]:
    """A CPU build of torch when pip's --find-links hold one (as this machine's do): the
    CUDA build PyPI serves is ~3 GB more and GuideLLM only needs torch's data loader."""
    wheels = sorted(glob.glob("/opt/wheels/torch-*+cpu-*.whl"))
    if not wheels:
        return []
    version = os.path.basename(wheels[-1]).split("-")[1]
    path = os.path.join(TOOLS, "torch-constraint.txt")
    with open(path, "w") as f:
        f.write(f"torch=={version}\n")
    return ["-c", path]


def make_venv(name: str, packages: list[str], timeout: int) -> bool:
    python = venv_python(name)
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", os.path.join(TOOLS, name)], check=True)
    log(f"{name}: pip install {' '.join(packages)} (at most {timeout} s)")
    logpath = os.path.join(TOOLS, f"{name}-install.log")
    with open(logpath, "w") as logf:
        try:
            r = subprocess.run([python, "-m", "pip", "install", *pip_constraints(), *packages],
                               stdout=logf, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"{name}: install timed out; see {logpath}")
            return False
    if r.returncode:
        log(f"{name}: install failed; see {logpath}")
    return r.returncode == 0


def fetch_vllm_file(timeout: int) -> bool:
    """endpoint_request_func.py out of vLLM's newest sdist. pip downloads and unpacks the
    sdist, then fails to build its metadata (that needs torch and CUDA); --no-clean keeps
    the unpacked tree, which is all that is wanted."""
    work = tempfile.mkdtemp(prefix="vllm-sdist-", dir=TOOLS)
    env = dict(os.environ, TMPDIR=work)
    log("vllm: pip download --no-binary :all: vllm (the sdist; its build is expected to fail)")
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "vllm", "--no-deps",
                        "--no-binary", ":all:", "--no-build-isolation", "--no-clean",
                        "-d", os.path.join(work, "dist")], env=env, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        log("vllm: download timed out")
    found = glob.glob(os.path.join(work, "**", "vllm", "benchmarks", "lib",
                                   "endpoint_request_func.py"), recursive=True)
    ok = bool(found)
    if ok:
        os.makedirs(os.path.dirname(VLLM_FILE), exist_ok=True)
        shutil.copy(found[0], VLLM_FILE)
        pkg = glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.dirname(found[0])))), "PKG-INFO"))
        version = "?"
        for line in open(pkg[0]) if pkg else ():
            if line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
                break
        with open(os.path.join(os.path.dirname(VLLM_FILE), "VERSION"), "w") as f:
            f.write(version + "\n")
        log(f"vllm: {VLLM_FILE} (vLLM {version})")
    else:
        log("vllm: endpoint_request_func.py not found in the sdist")
    shutil.rmtree(work, ignore_errors=True)
    return ok


def install(args) -> int:
    os.makedirs(TOOLS, exist_ok=True)
    results = {
        "clients": make_venv("clients", ["aiohttp", "regex", "tqdm", "requests", "transformers", "jinja2"],
                             args.install_timeout),
        "vllm": fetch_vllm_file(args.install_timeout),
        "guidellm": make_venv("guidellm", ["guidellm"], args.install_timeout),
        "aiperf": make_venv("aiperf", ["aiperf"], args.install_timeout),
    }
    for name, ok in results.items():
        log(f"{name}: {'ready' if ok else 'NOT installed'}")
    return 0 if all(results.values()) else 1


# -- the server and the tokenizer ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fastmock:
    def __init__(self, logdir: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(logdir, "fastmock.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "fastmock", "--host", "127.0.0.1",
                                      "--port", str(self.port), *SERVER_FLAGS],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("fastmock did not start; see its log")

    def warm(self) -> None:
        """One request of each kind first: the first provider request loads the provider
        and latency modules (~60 ms, lazily, to keep an idle server small), which would
        add to the first requests' TTFT."""
        for path, body in (("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
                           ("/v1/completions", {"prompt": "hi"})):
            req = urllib.request.Request(self.url + path, data=json.dumps(
                {"model": MODEL, "max_tokens": 2, "stream": True, **body}).encode(),
                headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def write_tokenizer() -> str:
    directory = os.path.join(TOOLS, "tokenizer")
    subprocess.run([sys.executable, "-m", "fastmock", "tokenizer", directory], check=True,
                   stdout=subprocess.DEVNULL)
    return directory


def aiperf_tokenizer(directory: str) -> str:
    """AIPerf 0.13 with HF_HUB_OFFLINE set loads a tokenizer only from the Hugging Face
    cache (snapshot_download(local_files_only=True) on the name, which rejects a path);
    without it, it asks the hub. So the directory is laid out as a cached snapshot in a
    cache of its own (HF_HOME=bench/.tools/hf), named fastmock/tokenizer."""
    repo = os.path.join(TOOLS, "hf", "hub", "models--" + AIPERF_REPO.replace("/", "--"))
    snapshot = os.path.join(repo, "snapshots", AIPERF_COMMIT)
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(os.path.join(repo, "refs"))
    shutil.copytree(directory, snapshot)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(AIPERF_COMMIT)
    return os.path.join(TOOLS, "hf")


# -- the tools ----------------------------------------------------------------------------

def run_logged(argv: list[str], logpath: str, timeout: int, env: dict | None = None,
               cwd: str | None = None) -> tuple[int, str]:
    log(" ".join(argv))
    with open(logpath, "w") as logf:
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=logf, timeout=timeout,
                               env=dict(os.environ, **OFFLINE, **(env or {})), cwd=cwd, text=True)
        except subprocess.TimeoutExpired:
            return -1, ""
    with open(logpath, "a") as logf:
        logf.write(r.stdout)
    return r.returncode, r.stdout


def tool_vllm(srv: Fastmock, tok: str, logdir: str, args) -> list[dict]:
    rows = []
    for endpoint in ("chat", "completions"):
        argv = [venv_python("clients"), os.path.join(BENCH, "tools_clients", "vllm_serve.py"),
                VLLM_FILE, srv.url, MODEL, tok, "--endpoint", endpoint,
                "--requests", str(REQUESTS), "--concurrency", str(CONCURRENCY),
                "--input-len", str(INPUT_TOKENS), "--output-len", str(OUTPUT_TOKENS)]
        code, out = run_logged(argv, os.path.join(logdir, f"vllm-{endpoint}.log"), args.timeout)
        if code:
            rows.append({"tool": f"vllm bench serve ({endpoint})", "error": f"exit {code}"})
            continue
        r = json.loads(out.strip().splitlines()[-1])
        version = open(os.path.join(os.path.dirname(VLLM_FILE), "VERSION")).read().strip()
        rows.append({"tool": f"vllm bench serve {version} request funcs, {r['endpoint']}",
                     "ttft_ms": r["mean_ttft_ms"], "itl_ms": r["mean_itl_ms"],
                     "tpot_ms": r["mean_tpot_ms"], "output_tokens": r["mean_output_tokens"],
                     "prompt_tokens": r["mean_prompt_tokens"], "completed": r["completed"],
                     "requests": r["requests"], "raw": r,
                     "command": " ".join(os.path.relpath(a, os.path.dirname(BENCH)) if a.startswith(BENCH) else a
                                         for a in argv)})
    return rows


def tool_llmperf(srv: Fastmock, tok: str, logdir: str, args) -> list[dict]:
    argv = [venv_python("clients"), os.path.join(BENCH, "tools_clients", "llmperf_chat.py"),
            srv.url + "/v1", MODEL, tok, "--requests", str(REQUESTS), "--concurrency",
            str(CONCURRENCY), "--input-len", str(INPUT_TOKENS), "--output-len", str(OUTPUT_TOKENS)]
    code, out = run_logged(argv, os.path.join(logdir, "llmperf.log"), args.timeout)
    if code:
        return [{"tool": "LLMPerf (reproduced)", "error": f"exit {code}"}]
    r = json.loads(out.strip().splitlines()[-1])
    n = OUTPUT_TOKENS
    return [{"tool": "LLMPerf OpenAI chat client (reproduced)", "ttft_ms": r["mean_ttft_ms"],
             "itl_ms": r["mean_inter_token_latency_ms"], "output_tokens": r["mean_output_tokens"],
             "itl_expected_ms": (TTFT_MS + (n - 1) * ITL_MS) / n, "completed": r["requests"],
             "requests": REQUESTS, "raw": r,
             "command": " ".join(os.path.relpath(a, os.path.dirname(BENCH)) if a.startswith(BENCH) else a for a in argv),
             "note": "LLMPerf's inter_token_latency is (TTFT + all gaps) / output tokens"}]


def tool_guidellm(srv: Fastmock, tok: str, logdir: str, args) -> list[dict]:
    out_json = os.path.join(logdir, "guidellm.json")
    argv = [os.path.join(TOOLS, "guidellm", "bin", "guidellm"), "run",
            "--backend", f"kind=openai_http,target={srv.url},model={MODEL}",
            "--profile", f"kind=concurrent,streams={CONCURRENCY}",
            "--constraint", f"kind=max_requests,count={REQUESTS}",
            "--data", f"kind=synthetic_text,prompt_tokens={INPUT_TOKENS},output_tokens={OUTPUT_TOKENS}",
            "--tokenizer", f"kind=huggingface_auto,model={tok}",
            "--output", f"kind=json,path={out_json}", "--disable-console"]
    code, _ = run_logged(argv, os.path.join(logdir, "guidellm.log"), args.timeout, cwd=logdir)
    if code:
        return [{"tool": "GuideLLM", "error": f"exit {code}"}]
    bench = json.load(open(out_json))["benchmarks"][0]
    done = bench["requests"]["successful"]
    mean = lambda key: sum(r[key] for r in done) / len(done)  # noqa: E731
    version = subprocess.run([os.path.join(TOOLS, "guidellm", "bin", "python"), "-c",
                              "import importlib.metadata as m; print(m.version('guidellm'))"],
                             capture_output=True, text=True).stdout.strip()
    body = json.loads(done[0]["request_args"])["body"]
    body["messages"] = "..."
    return [{"tool": f"GuideLLM {version}", "ttft_ms": mean("time_to_first_token_ms"),
             "itl_ms": mean("inter_token_latency_ms"), "output_tokens": mean("output_tokens"),
             "prompt_tokens": mean("prompt_tokens"), "completed": len(done), "requests": REQUESTS,
             "body": body, "command": " ".join(argv).replace(BENCH + "/", "bench/")}]


def tool_aiperf(srv: Fastmock, tok: str, logdir: str, args) -> list[dict]:
    hf_home = aiperf_tokenizer(tok)
    art = os.path.join(logdir, "aiperf")
    shutil.rmtree(art, ignore_errors=True)
    argv = [os.path.join(TOOLS, "aiperf", "bin", "aiperf"), "profile", "--model", MODEL,
            "--tokenizer", AIPERF_REPO, "--url", srv.url, "--endpoint-type", "chat", "--streaming",
            "--concurrency", str(CONCURRENCY), "--request-count", str(REQUESTS),
            "--warmup-request-count", str(CONCURRENCY),
            "--isl", str(INPUT_TOKENS), "--isl-stddev", "0", "--osl", str(OUTPUT_TOKENS),
            "--osl-stddev", "0", "--extra-inputs", "ignore_eos:true", "--artifact-dir", art,
            "--ui", "none"]
    code, _ = run_logged(argv, os.path.join(logdir, "aiperf.log"), args.timeout,
                         env={"HF_HOME": hf_home}, cwd=logdir)
    if code:
        return [{"tool": "AIPerf", "error": f"exit {code}"}]
    r = json.load(open(os.path.join(art, "profile_export_aiperf.json")))
    return [{"tool": f"AIPerf {r.get('aiperf_version', '')}".strip(),
             "ttft_ms": r["time_to_first_token"]["avg"], "itl_ms": r["inter_token_latency"]["avg"],
             "output_tokens": r["output_sequence_length"]["avg"],
             "prompt_tokens": r["input_sequence_length"]["avg"],
             "completed": r["request_count"]["avg"], "requests": REQUESTS,
             "command": "HF_HOME=bench/.tools/hf " + " ".join(argv).replace(BENCH + "/", "bench/")}]


def check_tokenizer(tok: str, logdir: str, args) -> dict:
    """transformers.AutoTokenizer on the tokenizer directory counts as fastmock counts."""
    import random

    from fastmock.frames import DEFAULT_TEXT, cycled, split_tokens
    from fastmock.providers.common import count_tokens, joined
    rng = random.Random(16)
    pieces = list("ab .,!?'\"-\n\t") + ["é", "東京", "☃", "\u00a0", "Streaming", "fast.", "  "]
    texts = [DEFAULT_TEXT] + [joined(cycled(tuple(t.encode() for t in split_tokens(DEFAULT_TEXT))),
                                     n).decode() for n in (1, 100, 209, 210, 1000)]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randrange(60))) for _ in range(300)]
    chats = [[{"role": "system", "content": "You are  terse."}, {"role": "user", "content": "a b "}],
             [{"role": "user", "content": "héllo\nworld"}, {"role": "assistant", "content": ""},
              {"role": "user", "content": "x"}]]
    cases = {"texts": [(t, count_tokens(t)) for t in texts],
             "chats": [(c, count_tokens(*(m["content"] for m in c))) for c in chats]}
    path = os.path.join(logdir, "tokenizer-cases.json")
    with open(path, "w") as f:
        json.dump(cases, f)
    code, out = run_logged([venv_python("clients"), os.path.join(BENCH, "tools_clients",
                            "tokenizer_check.py"), tok, path],
                           os.path.join(logdir, "tokenizer-check.log"), args.timeout)
    result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"misses": ["no output"]}
    result["ok"] = code == 0
    return result


TOOL_RUNS = {"vllm": tool_vllm, "guidellm": tool_guidellm, "aiperf": tool_aiperf,
             "llmperf": tool_llmperf}
READY = {"vllm": lambda: os.path.exists(VLLM_FILE) and os.path.exists(venv_python("clients")),
         "llmperf": lambda: os.path.exists(venv_python("clients")),
         "guidellm": lambda: os.path.exists(os.path.join(TOOLS, "guidellm", "bin", "guidellm")),
         "aiperf": lambda: os.path.exists(os.path.join(TOOLS, "aiperf", "bin", "aiperf"))}


def within(value: float, target: float) -> bool:
    return abs(value - target) <= TOLERANCE * target


def write_results(rows: list[dict], tokenizer_check: dict | None) -> None:
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"configured": {"ttft_ms": TTFT_MS, "itl_ms": ITL_MS,
                                  "output_tokens": OUTPUT_TOKENS, "prompt_tokens": INPUT_TOKENS,
                                  "requests": REQUESTS, "concurrency": CONCURRENCY,
                                  "server_flags": SERVER_FLAGS},
                   "tokenizer_check": tokenizer_check, "tools": rows}, f, indent=1, default=str)
    lines = ["| tool | TTFT ms (200) | ITL ms (40) | output tokens (100) | prompt tokens (64) | completed | within 5% |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['tool']} | {r['error']} | | | | | no |")
            continue
        itl_target = r.get("itl_expected_ms", ITL_MS)
        ok = (within(r["ttft_ms"], TTFT_MS) and within(r["itl_ms"], itl_target)
              and within(r["itl_ms"], ITL_MS) and r["output_tokens"] == OUTPUT_TOKENS)
        itl = f"{r['itl_ms']:.2f}" + (f" (its formula: {itl_target:.2f})" if "itl_expected_ms" in r else "")
        prompt = f"{r['prompt_tokens']:.1f}" if r.get("prompt_tokens") is not None else "-"
        lines.append(f"| {r['tool']} | {r['ttft_ms']:.1f} | {itl} | {r['output_tokens']:g} | "
                     f"{prompt} | {r['completed']:g}/{r['requests']} | {'yes' if ok else 'NO'} |")
    commands = [f"- {r['tool']}: `{r['command']}`" for r in rows if r.get("command")]
    check = tokenizer_check or {}
    tokenizer_line = (
        f"`transformers.AutoTokenizer` ({check.get('class')}, {check.get('vocab_size')} ids) on "
        f"the directory, offline: {check.get('texts')} texts (the corpus, cycled answers of 1-1000 "
        f"tokens, 300 random texts with punctuation, newlines, tabs, runs of spaces and "
        f"non-ASCII) and {check.get('chats')} chats through its chat template count as fastmock "
        f"counts, and N random ids decode to N tokens: "
        + ("**all agree**" if check.get("ok") else f"**misses**: {check.get('misses')}")
        if tokenizer_check else "not checked (the clients venv is not installed)")
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(RESULTS_MD.format(
            date=time.strftime("%Y-%m-%d"), flags=" ".join(SERVER_FLAGS), requests=REQUESTS,
            concurrency=CONCURRENCY, table="\n".join(lines), commands="\n".join(commands),
            tokenizer=tokenizer_line))
    print("\n".join(lines))


RESULTS_MD = """# The benchmarking tools against fastmock

Written by `python bench/tools.py` ({date}; the tools installed by `python bench/tools.py
--install`). fastmock ran as `fastmock --host 127.0.0.1 --port $PORT {flags}`; every tool
sent {requests} streamed chat requests (and vLLM's client as many completions), {concurrency}
at a time, each asking 100 tokens with `ignore_eos` (prompts of 64 tokens), after one
warm-up request of each kind to the server. The columns give each tool's own mean
over the requests, against the configured value in the heading; "within 5%" is TTFT and
ITL within 5% of 200 ms and 40 ms and exactly 100 output tokens.

{table}

Tokenizer: `fastmock tokenizer bench/.tools/tokenizer` wrote the tokenizer each tool
was given (GuideLLM's and AIPerf's prompts and AIPerf's and LLMPerf's output token
counts come from it; vLLM's client and GuideLLM read the output tokens from `usage`).
{tokenizer}

## How each tool ran

{commands}

The environment of every tool had `HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
HF_DATASETS_OFFLINE=1`: nothing came from a model hub.

- **vLLM**: `vllm bench serve` itself cannot be installed here (vLLM pins torch with
  CUDA). Its request functions can: `vllm/benchmarks/lib/endpoint_request_func.py`
  from vLLM's sdist on PyPI (`pip download vllm --no-deps --no-binary :all:`; the
  sdist's build fails for want of CUDA, and `--no-clean` keeps the unpacked file), run
  unmodified with aiohttp, regex and tqdm by `bench/tools_clients/vllm_serve.py`,
  which draws prompts as vLLM's `random` dataset does (random ids, decoded) and
  computes TTFT, TPOT, ITL and output tokens as `serve.py`'s `calculate_metrics` does.
  The server runs with `--completions-finish-on-last-token`: otherwise the empty
  closing chunk of a completions stream counts as one more gap in vLLM's ITL.
- **GuideLLM**: the `guidellm` CLI from PyPI, `synthetic_text` data; its JSON report
  gives each request's TTFT, ITL and output tokens (from `usage`).
- **AIPerf**: the `aiperf` CLI from PyPI, counting output tokens with the tokenizer
  (no `--use-server-token-count`). AIPerf 0.13 with `HF_HUB_OFFLINE` set loads a
  tokenizer only from the Hugging Face cache, by name (a directory fails with
  `HFValidationError: Repo id must be in the form ...`), and without it asks the hub
  to resolve the name; so the directory is laid out as a cached snapshot
  (`bench/.tools/hf/hub/models--fastmock--tokenizer/`, `HF_HOME=bench/.tools/hf`) and
  given as `--tokenizer fastmock/tokenizer`. It sends `--warmup-request-count 4` first:
  its first requests otherwise carry its own connection set-up (~50 ms) in their TTFT.
- **LLMPerf**: ray-project/llmperf is not on PyPI (the `llmperf` there is another
  project) and runs its clients as Ray actors; `bench/tools_clients/llmperf_chat.py`
  reproduces its OpenAI chat client (`openai_chat_completions_client.py`: the same
  body, `requests` streaming, a token per chunk with content) and the arithmetic of
  `token_benchmark_ray.py` (output tokens: `len(tokenizer.encode(text))`; its
  "inter-token latency" is the sum of the TTFT and every gap divided by the output
  tokens, `(200 + 99 x 40) / 100 = 41.6` ms here: it is within 5% of 40 ms only
  because the answers are long), without Ray.

The bodies the tools sent are pinned in `tests/e2e/test_e2e_tool_bodies.py`.
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--install", action="store_true", help="install the tools into bench/.tools/")
    p.add_argument("--install-timeout", type=int, default=1800, help="seconds per install step")
    p.add_argument("--only", default=",".join(TOOL_RUNS), help="tools to run, comma-separated")
    p.add_argument("--timeout", type=int, default=300, help="seconds each tool may run")
    args = p.parse_args()
    if args.install:
        return install(args)
    logdir = os.path.join(OUT, "logs")
    os.makedirs(logdir, exist_ok=True)
    tok = write_tokenizer()
    rows = []
    tokenizer_check = check_tokenizer(tok, logdir, args) if READY["llmperf"]() else None
    log(f"tokenizer check: {tokenizer_check}")
    srv = Fastmock(logdir)
    try:
        for name in args.only.split(","):
            if not READY[name]():
                rows.append({"tool": name, "error": "not installed (python bench/tools.py --install)"})
                continue
            srv.warm()
            try:
                rows += TOOL_RUNS[name](srv, tok, logdir, args)
            except Exception as exc:  # one tool's failure does not stop the others
                rows.append({"tool": name, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        srv.stop()
    for row in rows:  # the port changes from run to run
        if "command" in row:
            row["command"] = row["command"].replace(srv.url, "http://127.0.0.1:$PORT")
    write_results(rows, tokenizer_check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
