"""``fastmock tokenizer DIR``: a Hugging Face tokenizer that counts tokens as fastmock does.

Benchmark clients (GuideLLM, AIPerf, LLMPerf, ``vllm bench serve``) load a tokenizer
with ``transformers.AutoTokenizer.from_pretrained`` to build prompts of N tokens and to
count the tokens of an answer. Pointed at a real model's tokenizer they would fetch it
from a hub and count differently from fastmock's ``usage``; pointed at this directory
they count exactly what fastmock counts, offline.

fastmock's rule (``split_tokens``): a token ends after each space (``' '`` only: a
newline or a tab is part of a token), keeping the space; whatever follows the last
space is one more token. So the tokenizer is:

- pre-tokenizer ``Split(" ", MergedWithPrevious)``: exactly those pieces. (Not
  ``WhitespaceSplit``, which also splits at newlines and tabs and drops the empty
  tokens of ``"a  b"``; not ``Whitespace``, which splits punctuation too.)
- model ``WordLevel``: the corpus's distinct tokens, each with its trailing space
  (``"Streaming "``), the corpus's last token as it stands too when it has none
  (``"milliseconds."``), a lone ``" "``, and ``"<unk> "`` for any other piece. One
  piece is one id whatever it holds, so ``len(encode(text))`` is fastmock's count
  for any text.
- decoder: a space is appended to a token that lacks one, then the tokens are
  joined as they are; every decoded token then ends in exactly one space, so N ids
  decode to a text fastmock counts as N tokens (the way GuideLLM, AIPerf and LLMPerf
  build a prompt of N tokens).
- no special tokens (nothing in the text is matched as one, and
  ``skip_special_tokens`` drops nothing) and no post-processor (no BOS), so
  ``add_special_tokens`` changes nothing; ``clean_up_tokenization_spaces`` off, since
  it would glue ``" ."`` onto the previous token.
- a chat template that writes each message's content and a space when it does not
  end in one: its token count is the sum of the messages', as fastmock's
  ``prompt_tokens`` counts chat.

The files are written as plain JSON: neither ``tokenizers`` nor ``transformers`` is
needed to write them, only to load them.
"""
import json
import os
import sys

from fastmock.frames import split_tokens

UNK = "<unk> "
# GET /v1/models's max_model_len (providers/openai.py MAX_MODEL_LEN; not imported: it loads
# the provider code)
MODEL_MAX_LENGTH = 32768
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% set content = message['content'] if message['content'] is string else '' %}"
    "{{ content }}{% if content and not content.endswith(' ') %} {% endif %}"
    "{% endfor %}"
)


def vocabulary(text: str) -> dict:
    """Token -> id: ``<unk>``, a lone space, then the corpus's tokens in order of first use,
    each with its trailing space (the last one, which may lack it, also as it stands)."""
    vocab = {UNK: 0, " ": 1}
    for token in split_tokens(text):
        for form in (token if token.endswith(" ") else token + " ", token):
            if form not in vocab:
                vocab[form] = len(vocab)
    return vocab


def tokenizer_json(text: str) -> dict:
    """The ``tokenizer.json`` document (the ``tokenizers`` library's format)."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "},
                          "behavior": "MergedWithPrevious", "invert": False},
        "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"Regex": "(?<! )\\z"}, "content": " "},
            {"type": "Fuse"},
        ]},
        "model": {"type": "WordLevel", "vocab": vocabulary(text), "unk_token": UNK},
    }


def files(text: str, name: str = "fastmock") -> dict:
    """File name -> JSON document: everything ``AutoTokenizer.from_pretrained`` reads."""
    return {
        "tokenizer.json": tokenizer_json(text),
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": MODEL_MAX_LENGTH,
            "clean_up_tokenization_spaces": False,
            "add_bos_token": False,
            "add_eos_token": False,
            "chat_template": CHAT_TEMPLATE,
            "name_or_path": name,
        },
        "special_tokens_map.json": {},
    }


def write(directory: str, text: str) -> list[str]:
    """Write the tokenizer files into ``directory`` (made if missing); their paths."""
    os.makedirs(directory, exist_ok=True)
    written = []
    for name, document in files(text).items():
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(document, f, ensure_ascii=False, indent=1 if name != "tokenizer.json" else None)
            f.write("\n")
        written.append(path)
    return written


USAGE = """usage: fastmock tokenizer DIR [--text-file FILE]

Write a Hugging Face tokenizer into DIR (tokenizer.json, tokenizer_config.json,
special_tokens_map.json) that splits text exactly as fastmock counts
tokens: after every space, each token keeping its space. Its vocabulary is the
corpus's words (the built-in text, or FILE's), any other word is one <unk>, so
len(tokenizer.encode(text)) is fastmock's token count for any text and N ids decode
to a text of N tokens. Give DIR to a benchmark client as its tokenizer
(AutoTokenizer.from_pretrained(DIR); set HF_HUB_OFFLINE=1): nothing is downloaded.

options:
  -h, --help        show this help message and exit
  --text-file FILE  the corpus fastmock serves with --text-file FILE
"""


def main(argv: list[str]) -> int:
    """``fastmock tokenizer ...``: exit 0 having written DIR, 2 on a usage error."""
    from fastmock.frames import DEFAULT_TEXT
    directory = text_file = None
    args = iter(argv)
    try:
        for arg in args:
            if arg in ("-h", "--help"):
                print(USAGE, end="")
                return 0
            flag, has_value, value = arg.partition("=")
            if flag == "--text-file":
                value = value if has_value else next(args, None)
                if value is None:
                    raise ValueError("argument --text-file: expected a value")
                from fastmock.textfile import read_text_file
                try:
                    text_file = read_text_file(value)
                except ValueError as exc:
                    raise ValueError(f"argument --text-file: {exc}") from None
            elif arg.startswith("-") or directory is not None:
                raise ValueError(f"unrecognized argument: {arg}")
            else:
                directory = arg
        if directory is None:
            raise ValueError("expected the directory to write (fastmock tokenizer DIR)")
    except ValueError as exc:
        print(f"fastmock tokenizer: error: {exc}", file=sys.stderr)
        return 2
    text = text_file.text if text_file is not None else DEFAULT_TEXT
    try:
        write(directory, text)
    except OSError as exc:
        print(f"fastmock tokenizer: error: cannot write {directory}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(f"fastmock tokenizer: wrote {directory} ({len(vocabulary(text))} tokens)")
    return 0
