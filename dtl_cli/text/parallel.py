"""Tokenise many documents over several processes, results in input order.

Documents go to a process pool in chunks; at most a few chunks per process are in flight, so
a corpus streamed from a file is never held whole. The output is the same token lists, in the
same order, as the tokenizer applied one document at a time.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice

from dtl_cli.text.tokenize import make_tokenizer

CHUNK = 500  # documents per task: large enough to amortise the pickling
IN_FLIGHT = 3  # chunks queued per process
PARALLEL_FROM = 4 * CHUNK  # fewer documents than this are tokenised in this process
PARENT_POLL = 0.25  # seconds between a worker's checks that dtl is still running

_tokenize: Callable[[str], list[str]] | None = None  # the worker process's tokenizer


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _start_worker(name: str, lowercase: bool, parent: int) -> None:
    global _tokenize
    _exit_with(parent)
    _tokenize = make_tokenizer(name, lowercase=lowercase)


def _exit_with(parent: int) -> None:
    """End this worker soon after process ``parent`` ends, however it ends.

    A SIGKILLed dtl runs no clean-up, and its pool's queue stays open in the workers (each
    holds both ends of its pipe), so they would wait for work forever. A daemon thread sees
    the worker re-parented (its parent pid changes) and exits the process.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="dtl-parent-watch", daemon=True).start()


def _tokenize_chunk(texts: list[str]) -> list[list[str]]:
    assert _tokenize is not None, "worker not initialised"
    return [_tokenize(text) for text in texts]


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(texts)
    while chunk := list(islice(it, size)):
        yield chunk


def tokenize_all(
    texts: Iterable[str],
    name: str,
    *,
    lowercase: bool = True,
    workers: int | None = None,
    size_hint: int | None = None,
) -> Iterator[list[str]]:
    """Token lists of `texts`, in order, with tokenizer `name` (see `make_tokenizer`).

    `workers` processes (default: every available core) tokenise chunks of documents; with one
    worker, or when `size_hint` (the number of documents, if known) is small, it all happens in
    this process. Worker processes are spawned, never forked, so a parent that has started
    TensorFlow's threads is safe; they exit within a second of their parent's end, even a
    SIGKILL.
    """
    workers = available_cores() if workers is None else workers
    if workers <= 1 or (size_hint is not None and size_hint < PARALLEL_FROM):
        tokenize = make_tokenizer(name, lowercase=lowercase)
        yield from (tokenize(text) for text in texts)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(name, lowercase, os.getpid()),
    ) as pool:
        pending: deque[Future] = deque()
        for chunk in _chunks(texts, CHUNK):
            pending.append(pool.submit(_tokenize_chunk, chunk))
            if len(pending) >= workers * IN_FLIGHT:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
