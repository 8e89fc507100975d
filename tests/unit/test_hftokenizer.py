"""``fastmock tokenizer DIR`` (issue 16, points 2 and 6): the Hugging Face tokenizer it
writes, loaded by the ``tokenizers`` library (what ``transformers`` wraps), counts every
text as fastmock's ``usage`` does, and N ids decode to a text of N tokens."""
from __future__ import annotations

import json
import os
import random

import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st

from fastmock import hftokenizer
from fastmock.cli import main as cli_main
from fastmock.cli import parse_config
from fastmock.frames import DEFAULT_TEXT, cycled, split_tokens
from fastmock.providers.common import count_tokens, joined

FILE_TEXT = ("Ein  Text\tmit Tabs,\nZeilen und   Leerzeichen: «naïve» 東京 ☃ \n"
             "zweite Zeile ends without a space")


def load(directory: str):
    return tokenizers.Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tok"))
    assert cli_main(["tokenizer", directory]) == 0
    return load(directory)


def n_tokens(tok, text: str) -> int:
    return len(tok.encode(text, add_special_tokens=False).ids)


def test_the_corpus_is_its_vocabulary_and_counts_as_fastmock_counts(tok):
    encoded = tok.encode(DEFAULT_TEXT, add_special_tokens=False)
    assert len(encoded.ids) == count_tokens(DEFAULT_TEXT) == 209
    assert encoded.tokens == split_tokens(DEFAULT_TEXT)   # every word known: no <unk>
    assert tok.decode(encoded.ids) == DEFAULT_TEXT + " "  # each token ends in its space


@pytest.mark.parametrize("n", [1, 2, 208, 209, 210, 418, 1000])
def test_an_answer_of_n_tokens_cycling_the_corpus_is_n_tokens(tok, n):
    answer = joined(cycled(tuple(t.encode() for t in split_tokens(DEFAULT_TEXT))), n).decode()
    encoded = tok.encode(answer, add_special_tokens=False)
    assert len(encoded.ids) == count_tokens(answer) == n
    assert hftokenizer.UNK not in encoded.tokens


def test_special_tokens_change_nothing(tok):
    text = "a  b\nc "
    assert tok.encode(text).ids == tok.encode(text, add_special_tokens=False).ids
    assert tok.get_vocab_size(with_added_tokens=True) == tok.get_vocab_size(with_added_tokens=False)


PIECES = list("ab .,!?'\"-\n\t\r") + ["é", "東", "☃", "\u00a0", "\u2028", "Streaming",
                                      "fast.", "  ", "milliseconds."]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_any_text_counts_as_fastmock_counts(tok, text):
    assert n_tokens(tok, text) == count_tokens(text)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=80))
def test_any_unicode_text_counts_as_fastmock_counts(tok, text):
    assert n_tokens(tok, text) == count_tokens(text)


def test_n_sampled_ids_decode_to_n_tokens(tok):
    """GuideLLM, AIPerf and LLMPerf cut a prompt of N ids out of an encoded text and decode
    it; vLLM's random dataset samples ids at random: either way N ids are N tokens."""
    rng = random.Random(16)
    size = tok.get_vocab_size()
    for n in (1, 2, 3, 50, 500):
        for _ in range(20):
            ids = [rng.randrange(size) for _ in range(n)]
            text = tok.decode(ids)
            assert count_tokens(text) == n
            assert n_tokens(tok, text) == n


def test_a_text_file_gives_its_own_vocabulary(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(FILE_TEXT, encoding="utf-8")
    directory = tmp_path / "tok"
    assert cli_main(["tokenizer", str(directory), f"--text-file={corpus}"]) == 0
    assert "wrote" in capsys.readouterr().out
    tok = load(str(directory))
    encoded = tok.encode(FILE_TEXT, add_special_tokens=False)
    assert encoded.tokens == split_tokens(FILE_TEXT) and len(encoded.ids) == count_tokens(FILE_TEXT)
    answer = joined(cycled(tuple(t.encode() for t in split_tokens(FILE_TEXT))), 100).decode()
    assert n_tokens(tok, answer) == count_tokens(answer) == 100
    config = json.loads((directory / "tokenizer_config.json").read_text())
    assert config["clean_up_tokenization_spaces"] is False
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert json.loads((directory / "special_tokens_map.json").read_text()) == {}


def test_the_files_are_written_without_the_tokenizers_library(tmp_path):
    """The document the command writes is what ``tokenizers`` itself would save."""
    document = hftokenizer.tokenizer_json(DEFAULT_TEXT)
    rebuilt = json.loads(tokenizers.Tokenizer.from_str(json.dumps(document)).to_str())
    assert rebuilt["model"]["vocab"] == document["model"]["vocab"]
    assert rebuilt["pre_tokenizer"] == document["pre_tokenizer"]
    assert rebuilt["decoder"] == document["decoder"]


def test_help_and_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["--help"])
    assert exc.value.code == 0 and "tokenizer DIR" in capsys.readouterr().out
    assert cli_main(["tokenizer", "--help"]) == 0
    assert "Hugging Face tokenizer" in capsys.readouterr().out
    assert cli_main(["tokenizer"]) == 2
    assert "expected the directory" in capsys.readouterr().err
    assert cli_main(["tokenizer", str(tmp_path), "--port", "1"]) == 2
    assert "unrecognized argument: --port" in capsys.readouterr().err
    assert cli_main(["tokenizer", str(tmp_path), "--text-file", str(tmp_path / "none")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert cli_main(["tokenizer", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    # the server's flags are untouched by the sub-command
    assert parse_config(["--port", "0", "--ttft", "constant:200ms"], environ={}).port == 0
