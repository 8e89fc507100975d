"""``vllm bench serve``'s client, without vLLM: its request functions, unmodified, from
``vllm/benchmarks/lib/endpoint_request_func.py`` (bench/tools.py --install takes the
file out of vLLM's sdist on PyPI; it needs only aiohttp, regex and tqdm), driven the
way ``vllm/benchmarks/serve.py`` drives them, and its metrics computed as
``serve.py``'s ``calculate_metrics`` computes them:

- TTFT: the time to the first chunk with output; mean over the requests.
- TPOT: ``(latency - ttft) / (output_tokens - 1)`` per request; mean.
- ITL: every gap between chunks with output, of all requests; mean.
- output tokens: ``usage.completion_tokens`` (the request asks ``include_usage``).

Prompts are made as vLLM's ``random`` dataset makes them: ids drawn from the
tokenizer's vocabulary, decoded (the tokenizer ``fastmock tokenizer`` wrote).

Usage (bench/tools.py runs it): python vllm_serve.py FILE URL MODEL TOKENIZER
    --endpoint chat|completions --requests N --concurrency C --input-len I --output-len O
Prints one JSON object.
"""
import argparse
import asyncio
import importlib.util
import json
import random
import statistics

import aiohttp
from transformers import AutoTokenizer


def load(path: str):
    spec = importlib.util.spec_from_file_location("endpoint_request_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run(args) -> dict:
    erf = load(args.file)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    rng = random.Random(0)
    vocab = tokenizer.vocab_size
    func, path = {
        "chat": (erf.ASYNC_REQUEST_FUNCS["openai-chat"], "/v1/chat/completions"),
        "completions": (erf.ASYNC_REQUEST_FUNCS["openai"], "/v1/completions"),
    }[args.endpoint]
    inputs = []
    for _ in range(args.requests):
        prompt = tokenizer.decode([rng.randrange(vocab) for _ in range(args.input_len)])
        inputs.append(erf.RequestFuncInput(
            prompt=prompt, api_url=args.url + path, model=args.model,
            prompt_len=len(tokenizer(prompt, add_special_tokens=False).input_ids),
            output_len=args.output_len, ignore_eos=True))
    semaphore = asyncio.Semaphore(args.concurrency)
    connector = aiohttp.TCPConnector(limit=args.concurrency, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, timeout=erf.AIOHTTP_TIMEOUT,
                                     trust_env=False) as session:
        # vllm bench serve sends one test request first (not measured)
        await func(request_func_input=inputs[0], session=session)

        async def one(request):
            async with semaphore:
                return await func(request_func_input=request, session=session)
        outputs = await asyncio.gather(*(one(r) for r in inputs))
    ok = [o for o in outputs if o.success]
    ttfts = [o.ttft for o in ok]
    tpots = [(o.latency - o.ttft) / (o.output_tokens - 1) for o in ok if o.output_tokens > 1]
    itls = [gap for o in ok for gap in o.itl]
    return {
        "endpoint": path, "requests": len(outputs), "completed": len(ok),
        "errors": sorted({o.error[-200:] for o in outputs if not o.success}),
        "mean_ttft_ms": statistics.mean(ttfts) * 1000, "median_ttft_ms": statistics.median(ttfts) * 1000,
        "mean_tpot_ms": statistics.mean(tpots) * 1000,
        "mean_itl_ms": statistics.mean(itls) * 1000, "median_itl_ms": statistics.median(itls) * 1000,
        "mean_output_tokens": statistics.mean(o.output_tokens for o in ok),
        "mean_prompt_tokens": statistics.mean(o.prompt_len for o in ok),
        "itl_gaps_per_request": statistics.mean(len(o.itl) for o in ok),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    for name in ("file", "url", "model", "tokenizer"):
        p.add_argument(name)
    p.add_argument("--endpoint", default="chat")
    p.add_argument("--requests", type=int, default=24)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--input-len", type=int, default=64)
    p.add_argument("--output-len", type=int, default=100)
    print(json.dumps(asyncio.run(run(p.parse_args()))))


if __name__ == "__main__":
    main()
