"""Word-to-id vocabularies and padding of token lists into id matrices."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

PAD = 0
OOV = 1


def first_index(words: Iterable[str], offset: int = 0) -> dict[str, int]:
    """Map each word to ``offset +`` the position of its first occurrence in ``words``."""
    index: dict[str, int] = {}
    for position, word in enumerate(words, start=offset):
        index.setdefault(word, position)
    return index


def build_vocab(words: list[str]) -> dict[str, int]:
    """Map each word to ``position + 2`` (ids 0 and 1 are PAD and OOV).

    So word id ``i`` is row ``i - 2`` of the embedding matrix the words came with. A repeated
    word keeps the id of its first occurrence.
    """
    return first_index(words, offset=2)


def encode(
    token_lists: list[list[str]], index: dict[str, int], max_len: int
) -> tuple[np.ndarray, int]:
    """Turn token lists into an int32 id matrix [n, max_len].

    Unknown words become OOV, short sequences are padded with PAD at the end and long ones
    cut to ``max_len``. Returns ``(ids, n_truncated)``, the number of sequences that were cut.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    ids = np.full((len(token_lists), max_len), PAD, dtype=np.int32)
    n_truncated = 0
    for row, tokens in enumerate(token_lists):
        if len(tokens) > max_len:
            n_truncated += 1
            tokens = tokens[:max_len]
        ids[row, : len(tokens)] = [index.get(tok, OOV) for tok in tokens]
    return ids, n_truncated


def length_from_data(
    lengths: list[int] | np.ndarray, percentile: float = 95.0, cap: int = 512, step: int = 16
) -> int:
    """A padding length that fits most documents: the ``percentile`` of ``lengths`` (tokens
    per document) rounded up to a multiple of ``step``, at most ``cap``, at least 1.

    The multiple of ``step`` matches the training batches, which are cut to their longest
    document in steps of 16 tokens.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    if cap < 1 or step < 1:
        raise ValueError(f"cap and step must be at least 1, got {cap} and {step}")
    lengths = np.asarray(lengths)
    if not len(lengths):
        raise ValueError("no documents to measure")
    high = float(np.percentile(lengths, percentile, method="higher"))
    return int(min(cap, max(1, -(-int(high) // step) * step)))
