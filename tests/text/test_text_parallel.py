"""Parallel tokenisation: the same token lists, in the same order, as one process."""

import gzip
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

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


PARENT = """
import multiprocessing, sys, time
from dtl_cli.text import parallel
parallel.CHUNK = 1
texts = ["a b c"] * 1000
tokens = parallel.tokenize_all(texts, "whitespace", workers=2)
next(tokens)  # the pool is up, its workers busy or waiting
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a reparented one may wait to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to see the workers")
def test_workers_exit_when_their_parent_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    finally:
        parent.kill()  # SIGKILL: no clean-up runs in the parent
        parent.wait(timeout=30)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their parent"
