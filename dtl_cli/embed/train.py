"""Train word2vec or fastText embeddings on a tokenized corpus with gensim."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from gensim.models import FastText, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from dtl_cli.errors import DataError


class _EpochCallback(CallbackAny2Vec):
    """Calls ``on_epoch(epoch_index, n_epochs)`` after each gensim training epoch."""

    def __init__(self, on_epoch: Callable[[int, int], None], n_epochs: int) -> None:
        self.on_epoch = on_epoch
        self.n_epochs = n_epochs
        self.epoch = 0

    def on_epoch_end(self, model: Word2Vec) -> None:
        self.on_epoch(self.epoch, self.n_epochs)
        self.epoch += 1


@contextmanager
def _quiet_gensim() -> Iterator[None]:
    logger = logging.getLogger("gensim")
    previous = logger.level
    logger.setLevel(max(previous, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(previous)


@dataclass(frozen=True)
class Subwords:
    """fastText's character n-grams: of ``min_n`` to ``max_n`` characters, hashed into
    ``bucket`` rows."""

    min_n: int = 1
    max_n: int = 4
    bucket: int = 200000

    def __post_init__(self) -> None:
        if not 1 <= self.min_n <= self.max_n:
            raise ValueError(
                f"need 1 <= min_n <= max_n, got min_n={self.min_n}, max_n={self.max_n}"
            )


def train_word2vec(
    sentences: Iterable[list[str]] | None = None,
    *,
    corpus_file: str | Path | None = None,
    dim: int = 50,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 5,
    sg: int = 1,
    negative: int = 5,
    seed: int = 0,
    workers: int = 1,
    max_vocab: int | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
    subwords: Subwords | None = None,
) -> tuple[list[str], np.ndarray]:
    """Train word2vec; returns ``(words, vectors)`` with vectors float32 [V, dim].

    The text: ``sentences``, re-iterable (read once for the vocabulary, once per epoch), or
    ``corpus_file``, space-separated tokens, a document per line, read by gensim in C (faster,
    scales over workers; other numbers than the iterable). Words come by descending
    frequency; ``max_vocab`` keeps at most that many. ``sg=1`` is skip-gram, ``sg=0`` CBOW.
    Reproducible for a fixed ``seed`` only with ``workers=1`` (threads reorder updates).
    With ``subwords``, fastText instead (see ``train_fasttext``).
    """
    settings = {
        "vector_size": dim,
        "window": window,
        "min_count": min_count,
        "sg": sg,
        "negative": negative,
        "seed": seed,
        "workers": workers,
        "max_final_vocab": max_vocab,
        "epochs": epochs,
    }
    extra = {} if subwords is None else asdict(subwords)
    model = (Word2Vec if subwords is None else FastText)(**settings, **extra)
    return _train(model, _text(sentences, corpus_file), min_count, epochs, on_epoch)


def train_fasttext(
    sentences: Iterable[list[str]] | None = None,
    *,
    min_n: int = 1,
    max_n: int = 4,
    bucket: int = 200000,
    **options,
) -> tuple[list[str], np.ndarray]:
    """Train fastText (word2vec over words and their character n-grams of ``min_n`` to
    ``max_n`` characters, hashed into ``bucket`` rows); ``options`` and the result as for
    ``train_word2vec``, each word's vector including its n-grams'.

    Subwords let words that share characters share statistics: useful for Chinese words
    (n-grams of 1 character are the characters themselves) and small corpora.
    """
    return train_word2vec(sentences, subwords=Subwords(min_n, max_n, bucket), **options)


def _text(sentences, corpus_file) -> dict:
    """gensim's keyword for the text: corpus_iterable or corpus_file."""
    if (sentences is None) == (corpus_file is None):
        raise TypeError("give exactly one of sentences and corpus_file")
    if corpus_file is not None:
        return {"corpus_file": str(corpus_file)}
    if iter(sentences) is sentences:
        raise TypeError(
            "sentences must be re-iterable (a list or an object with __iter__), "
            "not a one-shot iterator or generator"
        )
    return {"corpus_iterable": sentences}


def _train(
    model, text: dict, min_count: int, epochs: int, on_epoch
) -> tuple[list[str], np.ndarray]:
    """Build the vocabulary of a gensim word2vec or fastText model and train it."""
    with _quiet_gensim():
        model.build_vocab(**text)
        if len(model.wv) == 0:
            raise DataError(
                f"no word occurs at least min_count={min_count} times; "
                "the corpus is too small or min_count too high"
            )
        model.train(
            **text,
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
            epochs=epochs,
            callbacks=[_EpochCallback(on_epoch, epochs)] if on_epoch is not None else [],
        )
    return list(model.wv.index_to_key), np.array(model.wv.vectors, dtype=np.float32)
