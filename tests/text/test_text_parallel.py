"""Parallel tokenisation: the same token lists, in the same order, as one process."""

import gzip

import pytest

from dtl_cli.text import parallel
from dtl_cli.text.parallel import tokenize_all
from dtl_cli.text.readers import iter_lines
from dtl_cli.text.tokenize import make_tokenizer


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK", 7)  # many chunks, several in flight, a ragged last


@pytest.mark.parametrize(
    ("name", "texts"),
    [
        ("nltk", [f"Doc {i}: it's the {i % 13}th film, isn't it? Yes!" for i in range(200)]),
        ("jieba", [f"今天天气很好，我们去公园{i}次。外卖很快！" for i in range(150)]),
    ],
)
def test_parallel_equals_sequential(small_chunks, name, texts):
    texts = [*texts, "", "!!!"]  # empty and punctuation-only documents keep their places
    sequential = [make_tokenizer(name, lowercase=True)(t) for t in texts]
    assert list(tokenize_all(texts, name, workers=2)) == sequential
    assert list(tokenize_all(iter(texts), name, workers=1)) == sequential


def test_streams_a_gzip_file_in_order(small_chunks, tmp_path):
    path = tmp_path / "docs.txt.gz"
    lines = [f"line {i} Of Text" for i in range(100)]
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    tokens = list(tokenize_all(iter_lines(path), "whitespace", lowercase=False, workers=2))
    assert tokens == [line.split() for line in lines]


def test_small_inputs_stay_in_this_process(monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", no_pool)
    texts = ["a b", "c"]
    assert list(tokenize_all(texts, "whitespace", workers=2, size_hint=2)) == [["a", "b"], ["c"]]
