"""What several stages read from a pretrain entry, as plain arrays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from dtl_cli.embed.io import load_saved_vectors
from dtl_cli.errors import ConfigError

SPLITS = ("source_train", "target_train", "target_test")


@dataclass
class Pretrained:
    """The contents of a pretrain entry.

    Vectors are normalised [V, dim] float32; `ids[split]` are token ids [n, max_len] into
    `embedding_matrix(vectors)` and `labels[split]` class ids [n] into `class_names`.
    """

    source_words: list[str]
    source_vectors: np.ndarray
    target_words: list[str]
    target_vectors: np.ndarray
    ids: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    class_names: list[str]
    entry: Path


def load_pretrained(entry: Path) -> Pretrained:
    source_words, source_vectors = load_saved_vectors(entry / "source")
    target_words, target_vectors = load_saved_vectors(entry / "target")
    arrays = np.load(entry / "data.npz")
    return Pretrained(
        source_words=source_words,
        source_vectors=source_vectors,
        target_words=target_words,
        target_vectors=target_vectors,
        ids={s: arrays[f"{s}_ids"] for s in SPLITS},
        labels={s: arrays[f"{s}_labels"] for s in SPLITS},
        class_names=json.loads((entry / "labels.json").read_text()),
        entry=entry,
    )


def embedding_matrix(vectors: np.ndarray) -> np.ndarray:
    """Rows for token ids: 0 = padding and 1 = unknown word (both zero), then one per word."""
    dim = vectors.shape[1]
    return np.vstack([np.zeros((2, dim), dtype=np.float32), vectors.astype(np.float32)])


def resolve_k(cfg: DictConfig, n_available: int) -> int:
    """`evaluation.k` as a number of target training examples (`all` -> every one)."""
    k = cfg.evaluation.k
    if k == "all":
        return n_available
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ConfigError(f"evaluation.k={k!r} must be a whole number >= 0 or 'all'")
    if k > n_available:
        raise ConfigError(
            f"evaluation.k={k} but the target training split has only {n_available} examples; "
            f"use evaluation.k<={n_available} or evaluation.k=all"
        )
    return k
