"""Stage 3, finetune: carry the source classifier into the target language through the map,
then fine-tune it on k labelled target examples (k = 0 is zero-shot). Also trains the
target-only baseline on the same k examples, for evaluate to compare against.

Before any k-shot label, the transferred classifier is adapted to the target without labels
(stages/adaptation.py: re-trained source classifier, label-shift EM, self-training on the
unlabelled target text: the pool without labels + dataset.target.unlabelled), once per
stage run. For k > 0 it is mixed with a target-only classifier (model.finetune.combine).
The baseline gets the same label-shift EM.

Entries (stages/entries.py), one per (k, repeat): finetune (compact weights over the carried
target vectors, `target_only.npz` for the mix's target-only part, + `finetune.json`) and
baseline (compact weights over the target vectors, or for k = 0 only `baseline.json` naming
the majority source class).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from dtl_cli import ui
from dtl_cli.models.training import (
    finetune,
    fit_classifier,
    stratified_sample,
)
from dtl_cli.splits import dev_split
from dtl_cli.stages import adaptation, entries
from dtl_cli.stages.common import dev_fraction, resolve_k, shots, tensorboard_dir, training_args
from dtl_cli.stages.entries import Labelled, Space
from dtl_cli.store import Store

STAGE = "finetune"


@dataclass
class _Target:
    """What the (k, repeat) entries read: target space, training split, class names, and
    `unlabelled` [n, len], the target text label-free adaptation reads (never the test's)."""

    space: Space
    train: Labelled
    classes: list[str]
    source_labels: np.ndarray
    unlabelled: np.ndarray


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return all(
        store.has(STAGE, entries.finetune_key(cfg, k, r))
        and store.has("baseline", entries.baseline_key(cfg, k, r))
        for k, r in shots(cfg)
    )


def _load_target(cfg: DictConfig, store: Store) -> _Target:
    space = entries.read_space(cfg, store, "target")
    classes = entries.class_names(cfg, store)
    train = entries.read_labelled(cfg, store, "target", space, classes)
    source = entries.read_corpus(cfg, store, "source").labels
    source_labels = entries.class_ids(
        source, classes, cfg.dataset.source.train.path, "dataset.source.train"
    )
    extra = entries.read_unlabelled(cfg, store, "target", space)
    unlabelled = adaptation.unlabelled_text(cfg, train.ids, extra)
    if len(unlabelled) > len(train.ids):
        ui.info(
            f"label-free adaptation reads {len(unlabelled)} target documents: the pool's "
            f"{len(train.ids)}, {len(unlabelled) - len(train.ids)} from dataset.target.unlabelled"
        )
    return _Target(space, train, classes, source_labels, unlabelled)


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    # Read once per stage run, and only if some (k, repeat) entry has to be built.
    target = functools.cache(lambda: _load_target(cfg, store))
    carried = functools.cache(lambda: _carried_source_model(cfg, store, target()))
    # The label-free adaptation uses no k-shot label: one entry, shared by every (k, repeat).
    adapted = functools.cache(lambda: _adapted(cfg, store, target(), *carried(), used))
    done, used = {}, {}
    for k, repeat in shots(cfg):
        name = f"k={k}/repeat={repeat}"
        key = entries.finetune_key(cfg, k, repeat)
        entry, cached = entries.build(
            store,
            STAGE,
            key,
            lambda tmp, k=k, r=repeat: _transfer(
                cfg, target(), carried()[0], adapted(), k, r, tmp, run_dir
            ),
        )
        base_key = entries.baseline_key(cfg, k, repeat)
        base_entry, base_cached = entries.build(
            store,
            "baseline",
            base_key,
            lambda tmp, k=k, r=repeat: _baseline(cfg, target(), k, r, tmp, run_dir),
        )
        done[name] = {
            "entry": str(entry),
            "cached": cached,
            "baseline_entry": str(base_entry),
            "baseline_cached": base_cached,
        }
        used[f"finetune[{k},{repeat}]"] = entries.record(STAGE, key, cached)
        used[f"baseline[{k},{repeat}]"] = entries.record("baseline", base_key, base_cached)
    return {"shots": done, "entries": used}


def k_shot_sample(
    labels: np.ndarray, k: int | str, repeat: int, seed: int, dev_fraction: float = 0.0
) -> np.ndarray:
    """Indices into the target training split (class ids `labels` [n]): the same examples for
    transfer and baseline; each repeat draws another sample. With a dev split
    (`evaluation.dev_fraction`), only from the examples outside it."""
    _, pool = dev_split(labels, dev_fraction, seed)
    picked = stratified_sample(labels[pool], resolve_k(k, len(pool)), seed=seed + repeat)
    return pool[picked]


def _epochs_bar(what: str, epochs: int):
    return ui.progress(f"{what} epochs", epochs)


def _say_if_no_validation(cfg: DictConfig, history: dict, n: int) -> None:
    if history and "val_loss" not in history and cfg.model.validation_split > 0:
        ui.info(
            f"{n} examples are too few for a validation split (model.validation_split="
            f"{cfg.model.validation_split} needs two per class): trained all epochs, no early stop"
        )


def _carried_source_model(cfg: DictConfig, store: Store, target: _Target):
    """(target embedding matrix carried into the source space [V_t + 2, d_s], the source
    classifier)."""
    source = entries.read_space(cfg, store, "source")
    source_model = entries.read_classifier(
        cfg, store, entries.embedding_matrix(source.vectors), len(target.classes)
    )
    carried = entries.carried_target_vectors(cfg, store, target.space)
    return entries.embedding_matrix(carried), source_model


def _adapted(cfg, store: Store, target: _Target, matrix: np.ndarray, source_model, used: dict):
    """(adapted transferred classifier's weights, its record), from its store entry (built
    here if missing; reads the source split only if the source classifier is re-trained)."""

    def source():
        space = entries.read_space(cfg, store, "source")
        split = entries.read_labelled(cfg, store, "source", space, target.classes)
        return entries.embedding_matrix(space.vectors), split.ids, split.labels

    def write(tmp: Path) -> dict:
        model, record = adaptation.label_free(
            cfg, target.unlabelled, matrix, source_model, target.source_labels, source
        )
        return entries.write_adapted(tmp, model, matrix, record)

    key = entries.adapted_key(cfg)
    _, cached = entries.build(store, "adapted", key, write)
    used["adapted"] = entries.record("adapted", key, cached)
    model, record = entries.read_adapted(cfg, store, matrix, len(target.classes))
    return model.get_weights(), record


def _transfer(cfg, target: _Target, matrix: np.ndarray, adapted, k, repeat: int, tmp, run_dir):
    seed = cfg.seed + repeat
    weights, adapt_record = adapted
    sample = k_shot_sample(target.train.labels, k, repeat, cfg.seed, dev_fraction(cfg))
    ft = cfg.model.finetune
    strategy = ft.strategy if len(sample) else "zero_shot"

    def tuned(rows: np.ndarray, name: str):
        """(the adapted transferred classifier fine-tuned on sample[rows], its history)."""
        model = entries.build_model(cfg, matrix, len(target.classes), seed)
        model.set_weights(weights)
        if strategy == "zero_shot":
            return model, {}
        with _epochs_bar(f"fine-tune k={len(rows)} ({strategy})", ft.epochs) as bar:
            history = finetune(
                model,
                target.train.ids[sample[rows]],
                target.train.labels[sample[rows]],
                strategy=strategy,
                epochs=ft.epochs,
                learning_rate=ft.learning_rates[strategy],
                tensorboard_dir=tensorboard_dir(run_dir, name),
                on_epoch=lambda e, logs: bar.advance(f"loss {logs.get('loss', float('nan')):.3f}"),
                **{**training_args(cfg), "seed": seed},
            )
        return model, history

    model, history = tuned(np.arange(len(sample)), f"finetune-k{k}-r{repeat}")
    _say_if_no_validation(cfg, history, len(sample))
    combined, target_only = {}, None
    if len(sample):
        # A fine-tuned model has seen the k labels: the mix's weight needs it out of fold.
        refit = None if strategy == "zero_shot" else (lambda rows: tuned(rows, "finetune-cv")[0])
        target_only, combined = adaptation.combine(
            cfg,
            model,
            entries.embedding_matrix(target.space.vectors),
            target.train.ids[sample],
            target.train.labels[sample],
            target.unlabelled,
            seed,
            refit=refit,
        )
    else:
        ui.info("k=0: zero-shot, no target label used")
    info = {
        "k": len(sample),
        "repeat": repeat,
        "strategy": strategy,
        "adapt_norm": bool(cfg.model.adapt_norm),
        "adapt": adapt_record,
        "combine": combined,
        "sample": sample.tolist(),
        "history": history,
    }
    sizes = entries.write_trained(tmp, "finetune", model, matrix, info)
    if target_only is not None:
        base = entries.embedding_matrix(target.space.vectors)
        sizes.update(entries.write_target_only(tmp, target_only, base))
    return {"k": len(sample), "strategy": strategy, **sizes}


def _baseline(cfg, target: _Target, k, repeat: int, tmp: Path, run_dir: Path) -> dict:
    sample = k_shot_sample(target.train.labels, k, repeat, cfg.seed, dev_fraction(cfg))
    if not len(sample):
        # No target labels at all: the best label-free guess is the source's majority class.
        majority = int(np.bincount(target.source_labels).argmax())
        info = {"kind": "majority", "class": majority, "k": 0, "repeat": repeat}
        entries.write_trained(tmp, "baseline", None, None, info)
        return info
    m = cfg.model
    seed = cfg.seed + repeat
    matrix = entries.embedding_matrix(target.space.vectors)
    model = entries.build_model(cfg, matrix, len(target.classes), seed)
    with _epochs_bar(f"target-only baseline k={len(sample)}", m.epochs) as bar:
        history = fit_classifier(
            model,
            target.train.ids[sample],
            target.train.labels[sample],
            epochs=m.epochs,
            learning_rate=m.learning_rate,
            tensorboard_dir=tensorboard_dir(run_dir, f"baseline-k{k}-r{repeat}"),
            on_epoch=lambda e, logs: bar.advance(f"loss {logs.get('loss', float('nan')):.3f}"),
            **{**training_args(cfg), "seed": seed},
        )
    _say_if_no_validation(cfg, history, len(sample))
    info = {"kind": "target_only", "k": len(sample), "repeat": repeat, "history": history}
    ids, labels = target.train.ids[sample], target.train.labels[sample]
    shift = adaptation.target_only_shift(
        cfg,
        model,
        labels,
        target.unlabelled,
        lambda: adaptation.target_only_out_of_fold(
            cfg, matrix, ids, labels, len(target.classes), seed
        )[0],
    )
    info.update(shift)
    if shift:
        calibrated = f"temperature {shift['temperature']:.2f}, " if "temperature" in shift else ""
        ui.info(
            f"target-only k={len(sample)}: {calibrated}label-shift EM priors "
            f"{np.round(shift['priors'], 3).tolist()}"
        )
    sizes = entries.write_trained(tmp, "baseline", model, matrix, info)
    return {"kind": "target_only", "k": len(sample), **sizes}
