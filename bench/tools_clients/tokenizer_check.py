"""``transformers.AutoTokenizer`` on the directory ``fastmock tokenizer`` wrote, offline:
the counts bench/tools.py computed with fastmock's own ``count_tokens`` are what the
tokenizer counts, N ids decode to N tokens, and the chat template's count is the sum of
the messages' (what fastmock's prompt_tokens says of a chat).

Usage: python tokenizer_check.py DIR CASES.json   (prints one JSON object; exit 1 on a miss)
"""
import json
import random
import sys

from transformers import AutoTokenizer


def main() -> int:
    directory, cases_path = sys.argv[1:3]
    tok = AutoTokenizer.from_pretrained(directory)
    cases = json.load(open(cases_path))
    misses = []
    for text, expected in cases["texts"]:
        for got in (len(tok.encode(text, add_special_tokens=False)), len(tok(text).input_ids)):
            if got != expected:
                misses.append({"text": text[:80], "expected": expected, "got": got})
    rng = random.Random(6)
    for n in (1, 7, 64, 512):
        ids = [rng.randrange(tok.vocab_size) for _ in range(n)]
        text = tok.decode(ids, skip_special_tokens=True)
        if len(tok.encode(text, add_special_tokens=False)) != n or text.count(" ") != n:
            misses.append({"decoded_ids": n, "text": text[:80]})
    for messages, expected in cases["chats"]:
        got = len(tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                          return_dict=True)["input_ids"])
        if got != expected:
            misses.append({"chat": messages, "expected": expected, "got": got})
    print(json.dumps({"class": type(tok).__name__, "vocab_size": tok.vocab_size,
                      "texts": len(cases["texts"]), "chats": len(cases["chats"]),
                      "misses": misses}))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
