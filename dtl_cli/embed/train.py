"""Train word2vec or fastText embeddings on a tokenized corpus with gensim."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

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


def train_word2vec(
    sentences: Iterable[list[str]],
    *,
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
) -> tuple[list[str], np.ndarray]:
    """Train word2vec; returns ``(words, vectors)`` with vectors float32 [V, dim].

    ``sentences`` must be re-iterable (a list of token lists, or an object whose ``__iter__``
    re-reads a file): it is read once for the vocabulary and once per epoch. Words come in
    descending frequency order; ``max_vocab`` keeps at most that many (gensim raises the
    effective min_count to fit). ``sg=1`` is skip-gram, ``sg=0`` CBOW. Results are
    reproducible for a fixed ``seed`` only with ``workers=1``; more workers train faster but
    thread scheduling makes the vectors differ from run to run.
    """
    model = Word2Vec(
        vector_size=dim,
        window=window,
        min_count=min_count,
        sg=sg,
        negative=negative,
        seed=seed,
        workers=workers,
        max_final_vocab=max_vocab,
        epochs=epochs,
    )
    return _train(model, sentences, min_count, epochs, on_epoch)


def train_fasttext(
    sentences: Iterable[list[str]],
    *,
    dim: int = 50,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 5,
    sg: int = 1,
    negative: int = 5,
    min_n: int = 1,
    max_n: int = 4,
    bucket: int = 200000,
    seed: int = 0,
    workers: int = 1,
    max_vocab: int | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
) -> tuple[list[str], np.ndarray]:
    """Train fastText (word2vec over words and their character n-grams of ``min_n`` to
    ``max_n`` characters, hashed into ``bucket`` rows); returns ``(words, vectors)`` like
    ``train_word2vec``, each word's vector including its n-grams'.

    Subwords let words that share characters share statistics: useful for Chinese words
    (n-grams of 1 character are the characters themselves) and small corpora.
    """
    if not 1 <= min_n <= max_n:
        raise ValueError(f"need 1 <= min_n <= max_n, got min_n={min_n}, max_n={max_n}")
    model = FastText(
        vector_size=dim,
        window=window,
        min_count=min_count,
        sg=sg,
        negative=negative,
        min_n=min_n,
        max_n=max_n,
        bucket=bucket,
        seed=seed,
        workers=workers,
        max_final_vocab=max_vocab,
        epochs=epochs,
    )
    return _train(model, sentences, min_count, epochs, on_epoch)


def _train(model, sentences, min_count: int, epochs: int, on_epoch) -> tuple[list[str], np.ndarray]:
    """Build the vocabulary of a gensim word2vec or fastText model and train it."""
    if iter(sentences) is sentences:
        raise TypeError(
            "sentences must be re-iterable (a list or an object with __iter__), "
            "not a one-shot iterator or generator"
        )
    gensim_logger = logging.getLogger("gensim")
    previous_level = gensim_logger.level
    gensim_logger.setLevel(max(previous_level, logging.WARNING))
    try:
        model.build_vocab(sentences)
        if len(model.wv) == 0:
            raise DataError(
                f"no word occurs at least min_count={min_count} times; "
                "the corpus is too small or min_count too high"
            )
        callbacks = [_EpochCallback(on_epoch, epochs)] if on_epoch is not None else []
        model.train(
            sentences,
            total_examples=model.corpus_count,
            epochs=epochs,
            callbacks=callbacks,
        )
    finally:
        gensim_logger.setLevel(previous_level)
    words = list(model.wv.index_to_key)
    vectors = np.array(model.wv.vectors, dtype=np.float32)
    return words, vectors
