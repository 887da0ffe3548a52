"""Stage 1, pretrain: tokenize both corpora, make word vectors per language, and train the
source classifier over frozen source vectors.

Entry: source/target vectors (normalised), the labelled splits as token ids, the class names
and `source_classifier.keras`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from omegaconf import DictConfig

from dtl_cli import ui
from dtl_cli.align.normalize import normalize
from dtl_cli.embed.io import save_vectors
from dtl_cli.embed.train import train_word2vec
from dtl_cli.errors import DataError
from dtl_cli.models.classifier import build_classifier
from dtl_cli.models.training import fit_classifier
from dtl_cli.stages.common import architecture, embedding_matrix, tensorboard_dir, training_args
from dtl_cli.stages.keys import pretrain_key
from dtl_cli.stages.vectors import load_pretrained_vectors
from dtl_cli.store import Store
from dtl_cli.text.readers import iter_lines, read_labelled
from dtl_cli.text.tokenize import make_tokenizer
from dtl_cli.text.vocab import OOV, build_vocab, encode

STAGE = "pretrain"
# Labelled split -> (side, part) of the dataset config, e.g. dataset.target.test.
SPLITS = {
    "source_train": ("source", "train"),
    "target_train": ("target", "train"),
    "target_test": ("target", "test"),
}


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return store.has(STAGE, pretrain_key(cfg))


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    key = pretrain_key(cfg)
    entry, cached = store.get_or_build(STAGE, key, lambda tmp: _build(cfg, store, tmp, run_dir))
    return {"key": key, "entry": str(entry), "cached": cached}


def _read(node: DictConfig, config_key: str) -> pd.DataFrame:
    try:
        return read_labelled(
            node.path,
            fmt=node.format,
            text_column=node.text_column,
            label_column=node.label_column,
        )
    except DataError as err:
        raise DataError(f"{err} [{config_key}]") from None


class _TokenFile:
    """A tokenized corpus on disk, one space-joined document per line, re-read on each pass."""

    def __init__(self, path: Path):
        self.path = path

    def __iter__(self) -> Iterator[list[str]]:
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                yield line.split()


def _write_tokens(path: Path, documents: list[list[str]], unlabelled: list[str], tokenize) -> int:
    """Tokenize once into `path` (streaming the unlabelled files); return the token count."""
    n_tokens = 0
    with open(path, "w", encoding="utf-8") as out:
        for tokens in documents:
            out.write(" ".join(tokens) + "\n")
            n_tokens += len(tokens)
        for file in unlabelled:
            for line in iter_lines(file):
                tokens = tokenize(line)
                if tokens:
                    out.write(" ".join(tokens) + "\n")
                    n_tokens += len(tokens)
    return n_tokens


def _vectors(
    cfg: DictConfig,
    store: Store,
    side: str,
    documents: list[list[str]],
    tokenize: Callable,
    tmp: Path,
) -> tuple[list[str], np.ndarray]:
    emb = cfg.embedding
    if emb.method == "pretrained":
        path = emb.source_vectors if side == "source" else emb.target_vectors
        ui.info(f"{side}: loading vectors from {path}")
        words, vectors, reused = load_pretrained_vectors(
            store, path, max_vocab=emb.max_vocab, lowercase=emb.lowercase
        )
        copy = "reused the binary copy" if reused else "saved a binary copy for next time"
        ui.info(f"{side}: {len(words)} words x {vectors.shape[1]} dims; {copy} in the store")
        return words, vectors
    if emb.method != "word2vec":
        raise DataError(f"embedding.method={emb.method!r} must be 'word2vec' or 'pretrained'")
    unlabelled = list(cfg.dataset[side].unlabelled)
    token_file = tmp / f"tokens.{side}.txt"
    n_tokens = _write_tokens(token_file, documents, unlabelled, tokenize)
    if n_tokens == 0:
        raise DataError(f"dataset.{side}: no tokens at all in the {side} text; check the files")
    with ui.progress(f"word2vec {side}", emb.epochs) as bar:
        try:
            words, vectors = train_word2vec(
                _TokenFile(token_file),
                dim=emb.dim,
                window=emb.window,
                min_count=emb.min_count,
                epochs=emb.epochs,
                sg=int(emb.skipgram),
                negative=emb.negative,
                seed=cfg.seed,
                workers=emb.workers,
                max_vocab=emb.max_vocab,
                on_epoch=lambda epoch, total: bar.advance(),
            )
        except DataError as err:
            raise DataError(f"dataset.{side}: {err}") from None
    token_file.unlink()
    ui.info(f"{side}: {len(words)} words x {vectors.shape[1]} dims from {n_tokens} tokens")
    return words, vectors


def _class_ids(frame: pd.DataFrame, classes: list[str], file: str, config_key: str) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(frame["label"]) - set(index))
    if unknown:
        row = int(np.flatnonzero(~frame["label"].isin(classes))[0])
        raise DataError(
            f"{file}: label {unknown[0]!r} (row {row + 1}) never occurs in the source training "
            f"data (source labels: {', '.join(classes)}); relabel it or drop it [{config_key}]"
        )
    return frame["label"].map(index).to_numpy(dtype=np.int64)


def _encode(token_lists: list[list[str]], index: dict[str, int], max_len: int, name: str):
    ids, n_cut = encode(token_lists, index, max_len)
    ids[ids.max(axis=1) == 0, 0] = OOV  # an empty document averages to zero, not to NaN
    if n_cut:
        ui.info(f"{name}: {n_cut} of {len(ids)} documents cut to model.max_len={max_len} tokens")
    return ids, n_cut


def _build(cfg: DictConfig, store: Store, tmp: Path, run_dir: Path) -> dict:
    d = cfg.dataset
    frames = {
        name: _read(d[side][part], f"dataset.{side}.{part}")
        for name, (side, part) in SPLITS.items()
    }
    classes = sorted(set(frames["source_train"]["label"]))
    if len(classes) < 2:
        raise DataError(
            f"{d.source.train.path}: only one label ({classes[0]!r}); a classifier needs at "
            "least two [dataset.source.train]"
        )
    labels = {
        name: _class_ids(frames[name], classes, d[side][part].path, f"dataset.{side}.{part}")
        for name, (side, part) in SPLITS.items()
    }
    tokenizers = {
        side: make_tokenizer(d[side].tokenizer, lowercase=d[side].lowercase)
        for side in ("source", "target")
    }
    tokens = {
        name: [tokenizers[side](text) for text in frames[name]["text"]]
        for name, (side, _) in SPLITS.items()
    }
    ui.info(
        "read "
        + ", ".join(f"{len(f)} {n.replace('_', ' ')}" for n, f in frames.items())
        + f" documents; {len(classes)} labels: {', '.join(classes)}"
    )

    vectors, index = {}, {}
    for side, docs in [
        ("source", tokens["source_train"]),
        ("target", tokens["target_train"] + tokens["target_test"]),
    ]:
        words, raw = _vectors(cfg, store, side, docs, tokenizers[side], tmp)
        vectors[side] = normalize(raw, list(cfg.embedding.normalize))
        index[side] = build_vocab(words)
        save_vectors(tmp / side, words, vectors[side])

    arrays, truncated = {}, {}
    for name, (side, _) in SPLITS.items():
        ids, truncated[name] = _encode(tokens[name], index[side], cfg.model.max_len, name)
        arrays[f"{name}_ids"], arrays[f"{name}_labels"] = ids, labels[name]
    np.savez(tmp / "data.npz", **arrays)
    (tmp / "labels.json").write_text(json.dumps(classes, ensure_ascii=False))

    m = cfg.model
    keras.utils.set_random_seed(cfg.seed)
    model = build_classifier(
        architecture(cfg),
        embedding_matrix(vectors["source"]),
        len(classes),
        trainable_embeddings=m.trainable_embeddings,
    )
    with ui.progress(f"source {m.name} epochs", m.epochs) as bar:
        history = fit_classifier(
            model,
            arrays["source_train_ids"],
            labels["source_train"],
            epochs=m.epochs,
            learning_rate=m.learning_rate,
            tensorboard_dir=tensorboard_dir(run_dir, "pretrain"),
            on_epoch=lambda epoch, logs: bar.advance(_epoch_note(logs)),
            **training_args(cfg),
        )
    model.save(tmp / "source_classifier.keras")
    summary = {
        "documents": {name: len(frame) for name, frame in frames.items()},
        "vocabulary": {side: len(index[side]) for side in index},
        "truncated": truncated,
        "classes": classes,
        "source_history": history,
    }
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return {"vocabulary": summary["vocabulary"], "epochs": len(history.get("loss", []))}


def _epoch_note(logs: dict) -> str:
    parts = [f"loss {logs['loss']:.3f}"] if "loss" in logs else []
    if "val_accuracy" in logs:
        parts.append(f"val acc {logs['val_accuracy']:.3f}")
    return ", ".join(parts)
