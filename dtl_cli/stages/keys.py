"""Store keys: each stage's key hashes the config it reads, its input files and upstream keys.

Same config -> same key -> the entry is reused, so a sweep over `mapping` pretrains once.
"""

from __future__ import annotations

import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dtl_cli.store import config_key


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _fingerprint(path: str | None) -> Any:
    """Size and modification time, so an edited input file invalidates the entries built on it."""
    if not path or not os.path.exists(path):
        return None
    stat = os.stat(path)
    return [os.path.abspath(path), stat.st_size, stat.st_mtime_ns]


def _labelled_inputs(cfg: DictConfig) -> list[str | None]:
    d = cfg.dataset
    files = [d.source.train.path, d.target.train.path, d.target.test.path]
    files += list(d.source.unlabelled) + list(d.target.unlabelled)
    files += [cfg.embedding.source_vectors, cfg.embedding.target_vectors]
    return files


def _model_without_finetune(cfg: DictConfig) -> dict:
    model = _plain(cfg.model)
    model.pop("finetune", None)
    return model


def pretrain_key(cfg: DictConfig) -> str:
    dataset = _plain(cfg.dataset)
    dataset.pop("dictionary", None)
    return config_key(
        "pretrain",
        {
            "dataset": dataset,
            "embedding": _plain(cfg.embedding),
            "model": _model_without_finetune(cfg),
            "seed": cfg.seed,
            "files": [_fingerprint(p) for p in _labelled_inputs(cfg)],
        },
    )


def vectors_key(path: str, max_vocab: int | None, lowercase: bool) -> str:
    """The binary copy of a pretrained vector file, loaded with these options."""
    return config_key(
        "vectors",
        {"file": _fingerprint(path), "max_vocab": max_vocab, "lowercase": lowercase},
    )


def map_key(cfg: DictConfig) -> str:
    dictionary = _plain(cfg.dataset.dictionary)
    return config_key(
        "map",
        {
            "mapping": _plain(cfg.mapping),
            "dictionary": dictionary,
            "files": [_fingerprint(p) for p in dictionary.values()],
            "bli": _plain(cfg.evaluation.bli),
            "pretrain": pretrain_key(cfg),
        },
    )


def finetune_key(cfg: DictConfig, k: int | str, repeat: int) -> str:
    """One fine-tuned classifier: k target examples (an int or "all"), sample number `repeat`."""
    return config_key(
        "finetune",
        {
            "finetune": _plain(cfg.model.finetune),
            "k": k,
            "seed": cfg.seed,
            "repeat": repeat,
            "map": map_key(cfg),
        },
    )


def baseline_key(cfg: DictConfig, k: int | str, repeat: int) -> str:
    """The target-only baseline depends on the model and the k-shot sample, not on the map."""
    return config_key(
        "baseline",
        {"k": k, "seed": cfg.seed, "repeat": repeat, "pretrain": pretrain_key(cfg)},
    )
