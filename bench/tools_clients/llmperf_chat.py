"""LLMPerf's OpenAI chat client and its token benchmark's arithmetic, reproduced.

ray-project/llmperf is not on PyPI (the ``llmperf`` there is another project) and
runs each client as a Ray actor; this reproduces, without Ray, what
``src/llmperf/ray_clients/openai_chat_completions_client.py`` and
``token_benchmark_ray.py`` do with a streamed answer:

- the body: ``{"model", "messages": [{"role": "system", "content": ""},
  {"role": "user", "content": PROMPT}], "stream": true, "max_tokens": N}`` plus the
  ``--additional-sampling-params`` (here ``{"ignore_eos": true}``), posted with
  ``requests`` to ``$OPENAI_API_BASE/chat/completions``, read with
  ``iter_lines(chunk_size=None)``;
- every ``data:`` line but ``[DONE]`` that has ``choices[0].delta.content`` is a
  token: the first one's time from the start is the TTFT, each later one's gap to
  the previous is appended to the same list (TTFT first);
- afterwards the answer's text is counted with the tokenizer
  (``len(tokenizer.encode(text))``: the output tokens), and "inter-token latency" is
  the *sum* of that list (TTFT included) divided by the output tokens, so it
  reads ``(ttft + (n - 1) * itl) / n``, not the gap between tokens;
- one short unmeasured request per client thread first (LLMPerf has none; see main());
- prompts: LLMPerf cuts lines of a sonnet to a token count with the tokenizer; here a
  prompt is that many ids of the tokenizer decoded.

Usage: python llmperf_chat.py URL MODEL TOKENIZER --requests N --concurrency C
    --input-len I --output-len O     (prints one JSON object)
"""
import argparse
import json
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from transformers import AutoTokenizer


def one_request(base: str, model: str, prompt: str, max_tokens: int, sampling: dict) -> dict:
    body = {"model": model, "stream": True,
            "messages": [{"role": "system", "content": ""}, {"role": "user", "content": prompt}],
            "max_tokens": max_tokens}
    body.update(sampling)
    gaps, text, ttft, chunks = [], "", 0.0, 0
    start = last = time.monotonic()
    with requests.post(base.rstrip("/") + "/chat/completions", json=body, stream=True, timeout=180,
                       headers={"Authorization": "Bearer sk-fastmock"}) as response:
        response.raise_for_status()
        for line in response.iter_lines(chunk_size=None):
            line = line.strip()
            if not line:
                continue
            data = line[len(b"data: "):]
            if data == b"[DONE]":
                continue
            chunks += 1   # LLMPerf's own tokens_received: every data chunk
            content = json.loads(data)["choices"][0]["delta"].get("content")
            if content:
                now = time.monotonic()
                if not ttft:
                    ttft = now - start
                    gaps.append(ttft)
                else:
                    gaps.append(now - last)
                last = now
                text += content
    return {"ttft": ttft, "gap_sum": sum(gaps), "e2e": time.monotonic() - start, "text": text,
            "chunks": chunks}


def main() -> None:
    p = argparse.ArgumentParser()
    for name in ("url", "model", "tokenizer"):
        p.add_argument(name)
    p.add_argument("--requests", type=int, default=24)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--input-len", type=int, default=64)
    p.add_argument("--output-len", type=int, default=100)
    args = p.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    rng = random.Random(11111)
    prompts = [tokenizer.decode([rng.randrange(tokenizer.vocab_size) for _ in range(args.input_len)])
               for _ in range(args.requests)]
    with ThreadPoolExecutor(args.concurrency) as pool:
        # Not LLMPerf's: one short request per thread first, unmeasured. The first request
        # of a thread costs `requests` ~30 ms more (its first session and connection), which
        # LLMPerf would put in the TTFT of the first wave; its Ray actors pay the same.
        list(pool.map(lambda prompt: one_request(args.url, args.model, prompt, 2, {}),
                      prompts[:args.concurrency]))
        results = list(pool.map(lambda prompt: one_request(args.url, args.model, prompt,
                                                           args.output_len, {"ignore_eos": True}),
                                prompts))
    rows = []
    for r in results:
        n = len(tokenizer.encode(r["text"]))
        rows.append({"ttft": r["ttft"], "itl": r["gap_sum"] / n if n else 0, "n": n,
                     "chunks": r["chunks"], "e2e": r["e2e"]})
    print(json.dumps({
        "requests": len(rows),
        "mean_ttft_ms": statistics.mean(r["ttft"] for r in rows) * 1000,
        "median_ttft_ms": statistics.median(r["ttft"] for r in rows) * 1000,
        "mean_inter_token_latency_ms": statistics.mean(r["itl"] for r in rows) * 1000,
        "mean_output_tokens": statistics.mean(r["n"] for r in rows),
        "mean_data_chunks": statistics.mean(r["chunks"] for r in rows),
        "mean_e2e_s": statistics.mean(r["e2e"] for r in rows),
        "ttft_ms": [round(r["ttft"] * 1000, 1) for r in rows],
    }))


if __name__ == "__main__":
    main()
