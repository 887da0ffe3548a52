"""Stage 3, finetune: carry the source classifier into the target language through the map,
then fine-tune it on k labelled target examples (k = 0 is zero-shot). Also trains the
target-only baseline on the same k examples, for evaluate to compare against.

One entry per (k, repeat): `finetune/<key>/classifier.keras`; `baseline/<key>/` holds
`classifier.keras`, or for k = 0 only `baseline.json` naming the majority source class.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import keras
import numpy as np
from omegaconf import DictConfig

from dtl_cli import ui
from dtl_cli.align.mappings import apply_map, invert_map
from dtl_cli.models.classifier import adapt_normalization, build_classifier, transplant
from dtl_cli.models.training import finetune, fit_classifier, stratified_sample
from dtl_cli.stages.common import (
    Pretrained,
    architecture,
    embedding_matrix,
    load_pretrained,
    resolve_k,
    shots,
    tensorboard_dir,
    training_args,
)
from dtl_cli.stages.keys import baseline_key, finetune_key, map_key, pretrain_key
from dtl_cli.store import Store

STAGE = "finetune"


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return all(
        store.has(STAGE, finetune_key(cfg, k, r)) and store.has("baseline", baseline_key(cfg, k, r))
        for k, r in shots(cfg)
    )


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    pre_entry = store.path("pretrain", pretrain_key(cfg))
    map_entry = store.path("map", map_key(cfg))
    # Read once per stage run, and only if some (k, repeat) entry has to be built.
    pretrained = functools.cache(lambda: load_pretrained(pre_entry))
    carried = functools.cache(lambda: _carried_source_model(pretrained(), pre_entry, map_entry))
    done = {}
    for k, repeat in shots(cfg):
        name = f"k={k}/repeat={repeat}"
        entry, cached = store.get_or_build(
            STAGE,
            finetune_key(cfg, k, repeat),
            lambda tmp, k=k, r=repeat: _transfer(cfg, pretrained(), *carried(), k, r, tmp, run_dir),
        )
        base_entry, base_cached = store.get_or_build(
            "baseline",
            baseline_key(cfg, k, repeat),
            lambda tmp, k=k, r=repeat: _baseline(cfg, pretrained(), k, r, tmp, run_dir),
        )
        done[name] = {
            "entry": str(entry),
            "cached": cached,
            "baseline_entry": str(base_entry),
            "baseline_cached": base_cached,
        }
    return {"shots": done}


def k_shot_sample(pre: Pretrained, k: int | str, repeat: int, seed: int) -> np.ndarray:
    """Indices into the target training split: the same examples for transfer and baseline;
    each repeat draws another sample."""
    labels = pre.labels["target_train"]
    return stratified_sample(labels, resolve_k(k, len(labels)), seed=seed + repeat)


def _build(cfg: DictConfig, matrix: np.ndarray, n_classes: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_classifier(architecture(cfg), matrix, n_classes)


def _epochs_bar(what: str, epochs: int):
    return ui.progress(f"{what} epochs", epochs)


def _say_if_no_validation(cfg: DictConfig, history: dict, n: int) -> None:
    if history and "val_loss" not in history and cfg.model.validation_split > 0:
        ui.info(
            f"{n} examples are too few for a validation split (model.validation_split="
            f"{cfg.model.validation_split} needs two per class): trained all epochs, no early stop"
        )


def _carried_source_model(pre: Pretrained, pre_entry: Path, map_entry: Path):
    """(target vectors carried into the source space [V_t, d_s], the source classifier)."""
    with np.load(map_entry / "map.npz") as saved:
        W, b = saved["W"], saved["b"]
    # The classifier was trained in the source space: bring target words there via f^-1
    # (exact for an orthogonal W, least squares otherwise).
    carried = apply_map(pre.target_vectors, *invert_map(W, b))
    source_model = keras.models.load_model(pre_entry / "source_classifier.keras", compile=False)
    return carried, source_model


def _transfer(
    cfg, pre: Pretrained, carried: np.ndarray, source_model, k, repeat: int, tmp, run_dir: Path
):
    seed = cfg.seed + repeat
    model = _build(cfg, embedding_matrix(carried), len(pre.class_names), seed)
    transplant(source_model, model)
    if cfg.model.adapt_norm:
        # AdaBN: target statistics from target training texts, labels unused.
        adapt_normalization(model, pre.ids["target_train"])
    sample = k_shot_sample(pre, k, repeat, cfg.seed)
    ft = cfg.model.finetune
    strategy = ft.strategy if len(sample) else "zero_shot"
    history: dict = {}
    if strategy != "zero_shot":
        rate = ft.learning_rates.get(strategy, cfg.model.learning_rate)
        with _epochs_bar(f"fine-tune k={len(sample)} ({strategy})", ft.epochs) as bar:
            history = finetune(
                model,
                pre.ids["target_train"][sample],
                pre.labels["target_train"][sample],
                strategy=strategy,
                epochs=ft.epochs,
                learning_rate=rate,
                tensorboard_dir=tensorboard_dir(run_dir, f"finetune-k{k}-r{repeat}"),
                on_epoch=lambda e, logs: bar.advance(f"loss {logs.get('loss', float('nan')):.3f}"),
                **{**training_args(cfg), "seed": seed},
            )
        _say_if_no_validation(cfg, history, len(sample))
    else:
        ui.info(f"k={len(sample)}: zero-shot, no target label used")
    model.save(tmp / "classifier.keras")
    info = {
        "k": len(sample),
        "repeat": repeat,
        "strategy": strategy,
        "adapt_norm": bool(cfg.model.adapt_norm),
        "sample": sample.tolist(),
        "history": history,
    }
    (tmp / "finetune.json").write_text(json.dumps(info))
    return {"k": len(sample), "strategy": strategy}


def _baseline(cfg, pre: Pretrained, k, repeat: int, tmp: Path, run_dir: Path) -> dict:
    sample = k_shot_sample(pre, k, repeat, cfg.seed)
    if not len(sample):
        # No target labels at all: the best label-free guess is the source's majority class.
        majority = int(np.bincount(pre.labels["source_train"]).argmax())
        info = {"kind": "majority", "class": majority, "k": 0, "repeat": repeat}
        (tmp / "baseline.json").write_text(json.dumps(info))
        return info
    m = cfg.model
    seed = cfg.seed + repeat
    model = _build(cfg, embedding_matrix(pre.target_vectors), len(pre.class_names), seed)
    with _epochs_bar(f"target-only baseline k={len(sample)}", m.epochs) as bar:
        history = fit_classifier(
            model,
            pre.ids["target_train"][sample],
            pre.labels["target_train"][sample],
            epochs=m.epochs,
            learning_rate=m.learning_rate,
            tensorboard_dir=tensorboard_dir(run_dir, f"baseline-k{k}-r{repeat}"),
            on_epoch=lambda e, logs: bar.advance(f"loss {logs.get('loss', float('nan')):.3f}"),
            **{**training_args(cfg), "seed": seed},
        )
    _say_if_no_validation(cfg, history, len(sample))
    model.save(tmp / "classifier.keras")
    info = {"kind": "target_only", "k": len(sample), "repeat": repeat, "history": history}
    (tmp / "baseline.json").write_text(json.dumps(info))
    return {"kind": "target_only", "k": len(sample)}
