"""Stage 3, finetune: carry the source classifier into the target language through the map,
then fine-tune it on k labelled target examples (k = 0 is zero-shot). Also trains the
target-only baseline on the same k examples, for evaluate to compare against.

Entries: `finetune/<key>/classifier.keras`; `baseline/<key>/` holds `classifier.keras`, or for
k = 0 only `baseline.json` naming the majority source class.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
from omegaconf import DictConfig

from dtl_cli import ui
from dtl_cli.align.mappings import apply_map, invert_map
from dtl_cli.models.classifier import build_classifier, set_embeddings_trainable, transplant
from dtl_cli.models.training import fit_classifier, stratified_sample
from dtl_cli.stages.common import Pretrained, embedding_matrix, load_pretrained, resolve_k
from dtl_cli.stages.keys import baseline_key, finetune_key, map_key, pretrain_key
from dtl_cli.store import Store

STAGE = "finetune"


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return store.has(STAGE, finetune_key(cfg)) and store.has("baseline", baseline_key(cfg))


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    pre_entry = store.path("pretrain", pretrain_key(cfg))
    map_entry = store.path("map", map_key(cfg))
    key, base_key = finetune_key(cfg), baseline_key(cfg)
    entry, cached = store.get_or_build(
        STAGE, key, lambda tmp: _transfer(cfg, pre_entry, map_entry, tmp)
    )
    base_entry, base_cached = store.get_or_build(
        "baseline", base_key, lambda tmp: _baseline(cfg, pre_entry, tmp)
    )
    return {
        "key": key,
        "entry": str(entry),
        "cached": cached,
        "baseline_key": base_key,
        "baseline_entry": str(base_entry),
        "baseline_cached": base_cached,
    }


def k_shot_sample(cfg: DictConfig, pre: Pretrained) -> np.ndarray:
    """Indices into the target training split: the same k examples for transfer and baseline."""
    labels = pre.labels["target_train"]
    return stratified_sample(labels, resolve_k(cfg, len(labels)), seed=cfg.seed)


def _build(cfg: DictConfig, matrix: np.ndarray, n_classes: int, trainable: bool) -> keras.Model:
    m = cfg.model
    keras.utils.set_random_seed(cfg.seed)
    return build_classifier(
        m.name,
        matrix,
        n_classes,
        max_len=m.max_len,
        hidden=list(m.hidden),
        dropout=m.dropout,
        trainable_embeddings=trainable,
    )


def _fit(cfg, model, pre: Pretrained, sample: np.ndarray, epochs: int, rate: float, what: str):
    m = cfg.model
    with ui.progress(f"{what} epochs", epochs) as bar:
        return fit_classifier(
            model,
            pre.ids["target_train"][sample],
            pre.labels["target_train"][sample],
            epochs=epochs,
            batch_size=m.batch_size,
            learning_rate=rate,
            validation_split=m.validation_split,
            patience=m.early_stopping_patience,
            seed=cfg.seed,
            on_epoch=lambda epoch, logs: bar.advance(f"loss {logs.get('loss', float('nan')):.3f}"),
        )


def _transfer(cfg: DictConfig, pre_entry: Path, map_entry: Path, tmp: Path) -> dict:
    pre = load_pretrained(pre_entry)
    with np.load(map_entry / "map.npz") as saved:
        W, b = saved["W"], saved["b"]
    # The classifier was trained in the source space: bring target words there via f^-1
    # (exact for an orthogonal W, least squares otherwise).
    carried = apply_map(pre.target_vectors, *invert_map(W, b))
    ft = cfg.model.finetune
    model = _build(cfg, embedding_matrix(carried), len(pre.class_names), ft.trainable_embeddings)
    source_model = keras.models.load_model(pre_entry / "source_classifier.keras", compile=False)
    transplant(source_model, model)
    sample = k_shot_sample(cfg, pre)
    history: dict = {}
    if len(sample):
        set_embeddings_trainable(model, ft.trainable_embeddings)
        history = _fit(cfg, model, pre, sample, ft.epochs, ft.learning_rate, "fine-tune")
        ui.info(f"fine-tuned on k={len(sample)} target examples")
    else:
        ui.info("k=0: zero-shot, no target label used")
    model.save(tmp / "classifier.keras")
    info = {"k": len(sample), "sample": sample.tolist(), "history": history}
    (tmp / "finetune.json").write_text(json.dumps(info))
    return {"k": len(sample)}


def _baseline(cfg: DictConfig, pre_entry: Path, tmp: Path) -> dict:
    pre = load_pretrained(pre_entry)
    sample = k_shot_sample(cfg, pre)
    if not len(sample):
        # No target labels at all: the best label-free guess is the source's majority class.
        majority = int(np.bincount(pre.labels["source_train"]).argmax())
        info = {"kind": "majority", "class": majority, "k": 0}
        (tmp / "baseline.json").write_text(json.dumps(info))
        return info
    m = cfg.model
    model = _build(
        cfg, embedding_matrix(pre.target_vectors), len(pre.class_names), m.trainable_embeddings
    )
    history = _fit(cfg, model, pre, sample, m.epochs, m.learning_rate, "target-only baseline")
    model.save(tmp / "classifier.keras")
    info = {"kind": "target_only", "k": len(sample), "history": history}
    (tmp / "baseline.json").write_text(json.dumps(info))
    return {"kind": "target_only", "k": len(sample)}
