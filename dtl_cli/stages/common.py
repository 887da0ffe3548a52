"""What several stages read from a pretrain entry, as plain arrays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from dtl_cli.embed.io import load_saved_vectors
from dtl_cli.errors import ConfigError
from dtl_cli.models.classifier import Architecture

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


def k_values(cfg: DictConfig) -> list[int | str]:
    """`evaluation.k` as a list: one value, or several for a learning curve."""
    k = cfg.evaluation.k
    values = list(k) if OmegaConf.is_list(k) or isinstance(k, list | tuple) else [k]
    for value in values:
        if value != "all" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(
                f"evaluation.k={value!r}: use a whole number >= 0, 'all', or a list of them"
            )
    return values


def shots(cfg: DictConfig) -> list[tuple[int | str, int]]:
    """Every (k, repeat) the config asks for; k = 0 needs no repeats (nothing is sampled)."""
    repeats = cfg.evaluation.repeats
    if repeats < 1:
        raise ConfigError(f"evaluation.repeats={repeats} must be at least 1")
    return [(k, r) for k in k_values(cfg) for r in range(1 if k == 0 else repeats)]


def resolve_k(k: int | str, n_available: int) -> int:
    """A k value as a number of target training examples (`all` -> every one)."""
    if k == "all":
        return n_available
    if k > n_available:
        raise ConfigError(
            f"evaluation.k={k} but the target training split has only {n_available} examples; "
            f"use evaluation.k<={n_available} or evaluation.k=all"
        )
    return k


def architecture(cfg: DictConfig) -> Architecture:
    """The classifier architecture described by `cfg.model`."""
    m = cfg.model
    return Architecture(
        name=m.name,
        hidden=tuple(m.hidden),
        dropout=m.dropout,
        filters=m.filters,
        kernel_sizes=tuple(m.kernel_sizes),
        lstm_units=m.lstm_units,
        normalize_encoding=m.adapt_norm,
    )


def training_args(cfg: DictConfig) -> dict:
    """Keyword arguments of `fit_classifier` shared by every training run of a config."""
    m = cfg.model
    return {
        "batch_size": m.batch_size,
        "validation_split": m.validation_split,
        "patience": m.early_stopping_patience,
        "optimizer": m.optimizer,
        "class_weight": m.class_weight,
        "seed": cfg.seed,
    }


def tensorboard_dir(run_dir: Path, name: str) -> Path:
    """Where a training run's TensorBoard logs go: `<run folder>/tensorboard/<name>`."""
    return run_dir / "tensorboard" / name
