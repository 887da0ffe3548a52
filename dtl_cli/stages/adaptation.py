"""Finetune-stage glue for adapting the transferred classifier (model.finetune.adapt and
model.finetune.combine): the source classifier re-trained for transfer, label-free adaptation
on the target training pool without labels, and the k-shot mix with a target-only model.

The methods live in dtl_cli.adapt (plain values); this module reads the config and trains.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from omegaconf import DictConfig

from dtl_cli import ui
from dtl_cli.adapt.adversarial import AdversarialHead, train_adversarial
from dtl_cli.adapt.ensemble import choose_weight, out_of_fold
from dtl_cli.adapt.label_free import LabelFreeOptions, adapt_to_target
from dtl_cli.adapt.label_shift import (
    adjust_priors,
    estimate_priors,
    fit_temperature,
    with_temperature,
)
from dtl_cli.errors import ConfigError
from dtl_cli.models.classifier import (
    adapt_normalization,
    divide_logits,
    set_head_weights,
    shift_priors,
    transplant,
)
from dtl_cli.models.training import fit_classifier, predict_probabilities
from dtl_cli.stages import entries
from dtl_cli.stages.common import training_args

COMBINE = ("ensemble", "none")
CV_FOLDS = 3
# The target-only side's calibration temperature, fitted on its k out-of-fold outputs, is
# only allowed to sharpen: a temperature estimated too high (outputs softened) makes EM
# overshoot toward the majority class, one too low only leaves EM short of the shift. At
# k = 10 the estimate swings from 0.05 to 2.7 (dev task), and the softened ones collapsed
# two samples to the majority class.
TEMPERATURES = (0.05, 1.0)
# (source embedding matrix [V_s + 2, d], source ids [n, len], source labels [n])
SourceLoader = Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]


def unlabelled_text(cfg: DictConfig, pool: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """The target text label-free adaptation reads, ids [n, len]: the training pool [p, len]
    without its labels, then the configured unlabelled documents `extra` [u, len] that are
    not in it (the pool keeps its own repeats: they are its class balance); above
    model.finetune.adapt.max_documents, a sample of that many (seeded, in order)."""
    seen = {row.tobytes() for row in pool}
    new = [i for i, row in enumerate(extra) if row.tobytes() not in seen]
    text = np.concatenate([pool, extra[new]]) if new else pool
    limit = cfg.model.finetune.adapt.max_documents
    if len(text) <= limit:
        return text
    rows = np.random.default_rng(cfg.seed).choice(len(text), limit, replace=False)
    return text[np.sort(rows)]


def _fit(cfg: DictConfig, model, ids, labels, *, what: str, seed: int, **overrides) -> dict:
    args = {
        **training_args(cfg),
        "epochs": cfg.model.epochs,
        "learning_rate": cfg.model.learning_rate,
        "seed": seed,
        **overrides,
    }
    with ui.progress(f"{what} epochs", args["epochs"]) as bar:
        return fit_classifier(model, ids, labels, on_epoch=lambda e, logs: bar.advance(), **args)


def transferred(cfg, matrix: np.ndarray, source_model, n_classes: int, pool_ids: np.ndarray):
    """The source classifier over the carried target matrix (AdaBN statistics if asked)."""
    model = entries.build_model(cfg, matrix, n_classes, cfg.seed)
    transplant(source_model, model)
    if cfg.model.adapt_norm:
        # AdaBN: target statistics from target training texts, labels unused.
        adapt_normalization(model, pool_ids)
    return model


def _document_vectors(model, ids: np.ndarray) -> np.ndarray:
    """A DAN's document vectors [n, dim] (its encoder output), for the adversarial head."""
    encoder = keras.Model(model.input, model.get_layer("encoder_average").output)
    return np.concatenate(
        [np.asarray(encoder(ids[i : i + 1024], training=False)) for i in range(0, len(ids), 1024)]
    )


def _adversarial(cfg, model, source_ids, source_labels, target_model, pool_ids) -> None:
    """Train `model`'s head language-adversarially (ADAN-style) over fixed document vectors:
    source documents with labels against the target pool through the map."""
    a = cfg.model.finetune.adapt
    if cfg.model.name != "dan" or cfg.model.adapt_norm:
        raise ConfigError(
            "model.finetune.adapt.adversarial_weight > 0 needs model.name=dan and "
            "model.adapt_norm=false: the adversarial head reads fixed document vectors"
        )
    target = _document_vectors(target_model, pool_ids)
    n_classes = int(model.output_shape[-1])
    head = AdversarialHead(target.shape[1], tuple(cfg.model.hidden), n_classes, seed=cfg.seed)
    ui.info(f"language-adversarial source classifier, {a.source_epochs} epochs")
    history = train_adversarial(
        head,
        _document_vectors(model, source_ids),
        source_labels,
        target,
        epochs=a.source_epochs,
        batch_size=cfg.model.batch_size,
        learning_rate=a.source_learning_rate,
        weight=a.adversarial_weight,
        seed=cfg.seed,
    )
    accuracy = np.round(history["disc_accuracy"], 3).tolist()
    ui.info(f"language discriminator accuracy by epoch: {accuracy}")
    set_head_weights(model, head.dense_weights())


def source_for_transfer(cfg, source_model, source: SourceLoader, matrix, pool_ids):
    """The source classifier the transfer starts from: the pretrain one when
    model.finetune.adapt.source_epochs is 0, else one re-trained on the source for that many
    epochs (language-adversarially when adversarial_weight > 0)."""
    a = cfg.model.finetune.adapt
    if a.source_epochs == 0:
        return source_model
    source_matrix, ids, labels = source()
    n_classes = int(source_model.output_shape[-1])
    model = entries.build_model(cfg, source_matrix, n_classes, cfg.seed)
    if a.adversarial_weight > 0:
        target_model = entries.build_model(cfg, matrix, n_classes, cfg.seed)
        _adversarial(cfg, model, ids, labels, target_model, pool_ids)
        return model
    _fit(
        cfg,
        model,
        ids,
        labels,
        what="source classifier for transfer",
        seed=cfg.seed,
        epochs=a.source_epochs,
        learning_rate=a.source_learning_rate,
        validation_split=0.0,
    )
    return model


def label_free(cfg, pool_ids, matrix, source_model, source_labels, source: SourceLoader):
    """(the adapted classifier, its record): the source classifier for transfer,
    carried over `matrix` (the carried target vectors), then label-shift EM and self-training
    on `pool_ids` [n, len], the target training pool without its labels."""
    a = cfg.model.finetune.adapt
    options = LabelFreeOptions(
        label_shift=a.label_shift,
        rounds=a.self_training_rounds,
        fraction=a.self_training_fraction,
        tolerance=a.self_training_tolerance,
    )
    n_classes = int(source_model.output_shape[-1])
    priors = np.bincount(source_labels, minlength=n_classes) / len(source_labels)

    students = []

    def fit(model, ids, labels):
        students.append(len(labels))
        what = f"self-training round {len(students)}, {len(labels)} pseudo-labels"
        _fit(cfg, model, ids, labels, what=what, seed=cfg.seed)

    start = source_for_transfer(cfg, source_model, source, matrix, pool_ids)
    model, record = adapt_to_target(
        transferred(cfg, matrix, start, n_classes, pool_ids),
        pool_ids,
        priors,
        options,
        make_student=lambda: transferred(cfg, matrix, start, n_classes, pool_ids),
        fit=fit,
    )
    record["priors"] = record.get("final_priors", record["teacher_priors"])
    stopped = [r["stopped"] for r in record.get("rounds", []) if "stopped" in r]
    why = f" ({stopped[0]})" if stopped else ""
    ui.info(
        f"label-free adaptation: {len(students)} self-training rounds{why}, target priors "
        f"{np.round(record['priors'], 3).tolist()}"
    )
    return model, record


def target_only_shift(cfg, model, labels: np.ndarray, unlabelled: np.ndarray, held_out) -> dict:
    """The target-only classifier's own label-shift EM (model.finetune.adapt.label_shift), in
    place. With calibration=temperature its logits are first divided by the temperature
    fitted on `held_out()` (out-of-fold probabilities [k, c] of its k examples `labels` [k];
    at most 1, see TEMPERATURES); then the target priors [c] come from its outputs on
    `unlabelled` [n, len] and its output layer is shifted to them from the sample's class
    shares. Returns {"temperature", "priors"} as applied; {} (the model left alone) without
    EM or when a class is missing."""
    a = cfg.model.finetune.adapt
    n_classes = int(model.output_shape[-1])
    under = np.bincount(labels, minlength=n_classes) / len(labels)
    if a.label_shift != "em" or not under.all():
        return {}
    record = {}
    if a.calibration == "temperature":
        record["temperature"] = fit_temperature(held_out(), labels, bounds=TEMPERATURES)
        divide_logits(model, record["temperature"])
    priors = estimate_priors(predict_probabilities(model, unlabelled), under)
    shift_priors(model, under, priors)
    return {**record, "priors": priors.tolist()}


def target_only_out_of_fold(cfg, matrix, ids, labels, n_classes: int, seed: int):
    """(probabilities [k, c], class shares [k, c]): each of the k examples `ids` [k, len]
    predicted by a target-only classifier over `matrix` trained on the other folds, and the
    class shares of that classifier's training rows (what a prior shift starts from)."""
    shares = np.zeros((len(labels), n_classes))

    def fit_predict(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        model = entries.build_model(cfg, matrix, n_classes, seed)
        _fit(cfg, model, ids[train], labels[train], what="target-only, CV", seed=seed)
        shares[held] = np.bincount(labels[train], minlength=n_classes) / len(train)
        return predict_probabilities(model, ids[held])

    probs = out_of_fold(
        len(labels), labels, fit_predict, folds=CV_FOLDS, seed=seed, n_classes=n_classes
    )
    return probs, shares


def as_shifted(probs: np.ndarray, shares: np.ndarray, shift: dict) -> np.ndarray:
    """Out-of-fold probabilities [k, c] (from models trained at class `shares` [k, c]) as
    those models would give them after `target_only_shift`'s `shift` (temperature, priors);
    rows whose model missed a class keep their priors, as target_only_shift leaves it."""
    if "temperature" in shift:
        probs = with_temperature(probs, shift["temperature"])
    if "priors" not in shift:
        return probs
    out = probs.copy()
    for old in np.unique(shares, axis=0):
        rows = (shares == old).all(axis=1)
        if old.all():
            out[rows] = adjust_priors(probs[rows], old, np.asarray(shift["priors"]))
    return out


def combine(cfg, model, target_matrix, ids, labels, unlabelled, seed: int, *, refit=None):
    """(target-only classifier or None, record) for the k labelled examples `ids` [k, len],
    `labels` [k].

    model.finetune.combine=ensemble: the target-only side is the baseline's classifier (the
    same training on the k examples, the same label-shift EM on `unlabelled` [n, len]), so
    weight 0 is the baseline itself; the prediction is weight * model + (1 - weight) *
    target-only, the weight chosen on the k examples against out-of-fold target-only
    probabilities (each fold's model calibrated and shifted alike; record["weight"]).
    `refit(rows)` rebuilds `model` from the examples `rows` alone when it was fine-tuned on
    them; None = it never saw them.
    """
    how = cfg.model.finetune.combine
    if how not in COMBINE:
        raise ConfigError(f"model.finetune.combine={how!r}: choose one of {', '.join(COMBINE)}")
    if how == "none":
        return None, {}
    n_classes = int(model.output_shape[-1])

    full = entries.build_model(cfg, target_matrix, n_classes, seed)
    _fit(cfg, full, ids, labels, what="target-only", seed=seed)
    raw, shares = target_only_out_of_fold(cfg, target_matrix, ids, labels, n_classes, seed)
    shift = target_only_shift(cfg, full, labels, unlabelled, lambda: raw)
    theirs = as_shifted(raw, shares, shift)

    def folds(fit_predict):
        return out_of_fold(
            len(labels), labels, fit_predict, folds=CV_FOLDS, seed=seed, n_classes=n_classes
        )

    if refit is None:
        mine = predict_probabilities(model, ids)
    else:
        mine = folds(lambda train, held: predict_probabilities(refit(train), ids[held]))
    by = cfg.model.finetune.weight_by
    weight = choose_weight(mine, theirs, labels, score=by)
    ui.info(
        f"k={len(labels)}: weight on the transferred classifier {weight} "
        f"({CV_FOLDS}-fold CV, by {by.replace('_', '-')})"
    )
    record = {"combine": how, "weight": weight, "weight_by": str(by)}
    if "priors" in shift:
        record["target_only_priors"] = shift["priors"]
    if "temperature" in shift:
        record["target_only_temperature"] = shift["temperature"]
    return (None if weight == 1.0 else full), record
