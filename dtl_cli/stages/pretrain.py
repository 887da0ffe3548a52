"""Stage 1, pretrain: tokenize the corpora, make word vectors per language, and train the
source classifier over frozen source vectors.

Entries (stages/entries.py): corpus[source], corpus[target], corpus[target_test],
embeddings[source], embeddings[target], classifier. Each is rebuilt only when what it reads
changed: another `model.*` retrains the classifier, never the word vectors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from itertools import chain, islice
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from dtl_cli import ui
from dtl_cli.embed.io import load_vectors
from dtl_cli.embed.train import Subwords, train_word2vec
from dtl_cli.errors import DataError
from dtl_cli.models.training import fit_classifier
from dtl_cli.stages import entries
from dtl_cli.stages.common import config_values, tensorboard_dir, training_args
from dtl_cli.stages.entries import PARTS, SIDES
from dtl_cli.store import Store
from dtl_cli.text.parallel import available_cores, tokenize_all
from dtl_cli.text.readers import iter_lines, read_labelled

STAGE = "pretrain"
# Entries whose labels must be source classes (checked on reused entries too).
_TARGET_CORPORA = {"corpus[target]": "target", "corpus[target_test]": "target_test"}
_SAID_AUTO: list[bool] = []
PARALLEL_FROM_BYTES = 4 << 20  # smaller corpus parts are tokenised in this process
LARGE_CORPUS = 5_000_000  # tokens: above this, say that embedding.workers=auto is faster


def _wanted(cfg: DictConfig, store: Store, run_dir: Path | None = None) -> list[tuple]:
    """(name, kind, key, build(tmp)) of this stage's entries, in build order."""
    wanted: list[tuple] = [
        (
            f"corpus[{p}]",
            "corpus",
            entries.corpus_key(cfg, p),
            partial(_corpus, cfg, store, p),
        )
        for p in PARTS
    ]
    wanted += [
        (
            f"embeddings[{s}]",
            "embeddings",
            entries.embeddings_key(cfg, s),
            partial(_build_embeddings, cfg, store, s),
        )
        for s in SIDES
    ]
    classifier = partial(_build_classifier, cfg, store, run_dir=run_dir)
    return [*wanted, ("classifier", "classifier", entries.classifier_key(cfg), classifier)]


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return all(store.has(kind, key) for _, kind, key, _ in _wanted(cfg, store))


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    done = {}
    for name, kind, key, build in _wanted(cfg, store, run_dir):
        _, cached = entries.build(store, kind, key, build)
        done[name] = entries.record(kind, key, cached)
        if name in _TARGET_CORPORA:
            _check_labels(cfg, store, _TARGET_CORPORA[name])
    cached = all(e["cached"] for e in done.values())
    return {"key": done["classifier"]["key"], "cached": cached, "entries": done}


def embeddings_entry(cfg: DictConfig, store: Store, side: str) -> tuple[Path, bool]:
    """(entry folder, was cached) of `side`'s embeddings, built if missing (its corpus entries,
    for word2vec, must exist)."""
    key = entries.embeddings_key(cfg, side)
    return entries.build(store, "embeddings", key, partial(_build_embeddings, cfg, store, side))


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


def _check_labels(cfg: DictConfig, store: Store, part: str) -> None:
    """A target split's labels must be source classes (checked on cached entries too)."""
    side, split = PARTS[part]
    labels = entries.read_corpus(cfg, store, part).labels
    classes = entries.class_names(cfg, store)
    entries.class_ids(labels, classes, cfg.dataset[side][split].path, f"dataset.{side}.{split}")


def _corpus(cfg: DictConfig, store: Store, part: str, tmp: Path) -> dict:
    side, split = PARTS[part]
    node = cfg.dataset[side]
    where = f"dataset.{side}.{split}"
    frame = _read(node[split], where)
    labels = list(frame["label"])
    if part == "source":
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise DataError(
                f"{node.train.path}: only one label ({classes[0]!r}); a classifier needs at "
                "least two [dataset.source.train]"
            )
    else:  # before anything is written: a label the classifier cannot know
        entries.class_ids(labels, entries.class_names(cfg, store), node[split].path, where)
    unlabelled = [] if part == "target_test" else list(node.unlabelled)
    texts = chain(frame["text"], _lines(unlabelled, f"dataset.{side}.unlabelled"))
    small = _text_bytes(frame, unlabelled) < PARALLEL_FROM_BYTES
    tokens = tokenize_all(
        texts, node.tokenizer, lowercase=node.lowercase, workers=1 if small else None
    )
    counts = entries.write_corpus(tmp, islice(tokens, len(frame)), labels, tokens)
    ui.info(
        f"corpus {part}: {counts['labelled']} labelled + {counts['unlabelled']} unlabelled "
        f"documents, {counts['tokens']} tokens"
        + (f"; labels {', '.join(classes)}" if part == "source" else "")
    )
    return counts


def _text_bytes(frame: pd.DataFrame, files: list[str]) -> int:
    """About how many bytes of text a corpus part holds (gzip: 3x the file)."""
    total = int(frame["text"].str.len().sum())
    for file in files:
        size = os.path.getsize(file) if os.path.isfile(file) else 0
        total += 3 * size if str(file).endswith(".gz") else size
    return total


def _lines(files: list[str], config_key: str) -> Iterator[str]:
    """The unlabelled files' documents; a read error (truncated .gz, bad byte) names the key."""
    for i, file in enumerate(files):
        try:
            yield from iter_lines(file)
        except DataError as err:
            raise DataError(f"{err} [{config_key}[{i}]]") from None


def _build_embeddings(cfg: DictConfig, store: Store, side: str, tmp: Path) -> dict:
    emb = cfg.embedding
    if emb.method == "pretrained":
        key = f"{side}_vectors"
        ui.info(f"{side}: loading vectors from {emb[key]}")
        try:
            words, vectors = load_vectors(
                emb[key], max_vocab=emb.max_vocab, lowercase=emb.lowercase
            )
        except DataError as err:
            raise DataError(f"{err} [embedding.{key}]") from None
        ui.info(
            f"{side}: {len(words)} words x {vectors.shape[1]} dims; saved a binary copy for next "
            "time in the store"
        )
        return entries.write_embeddings(tmp, words, vectors)
    corpora = [entries.read_corpus(cfg, store, part) for part in entries.embedding_parts(cfg, side)]
    n_tokens = sum(c.n_tokens for c in corpora)
    if n_tokens == 0:
        raise DataError(f"dataset.{side}: no tokens at all in the {side} text; check the files")
    workers = word2vec_workers(emb.workers)
    if n_tokens > LARGE_CORPUS and workers == 1:
        ui.info(
            f"{side}: {n_tokens} tokens; embedding.workers=auto trains word2vec on every core "
            "(faster, but gensim is then not bit-reproducible)"
        )
    fasttext = emb.method == "fasttext"
    subwords = Subwords(emb.min_n, emb.max_n, emb.bucket) if fasttext else None
    # One token file: gensim reads it in C; two (transductive): an iterable over both.
    files = [c.token_file for c in corpora]
    text = (
        {"corpus_file": files[0]} if len(files) == 1 else {"sentences": entries.TokenFile(*files)}
    )
    with ui.progress(f"{emb.method} {side}", emb.epochs) as bar, config_values("embedding.*"):
        try:
            words, vectors = train_word2vec(
                **text,
                subwords=subwords,
                dim=emb.dim,
                window=emb.window,
                min_count=emb.min_count,
                epochs=emb.epochs,
                sg=int(emb.skipgram),
                negative=emb.negative,
                seed=cfg.seed,
                workers=workers,
                max_vocab=emb.max_vocab,
                on_epoch=lambda epoch, total: bar.advance(),
            )
        except DataError as err:
            raise DataError(f"dataset.{side}: {err} [embedding.min_count]") from None
    ui.info(f"{side}: {len(words)} words x {vectors.shape[1]} dims from {n_tokens} tokens")
    return entries.write_embeddings(tmp, words, vectors)


def word2vec_workers(setting: int | str) -> int:
    """`embedding.workers` as a thread count (auto: every core, said once per process)."""
    if setting != "auto":
        return int(setting)
    cores = available_cores()
    if not _SAID_AUTO:
        _SAID_AUTO.append(True)
        ui.info(
            f"embedding.workers=auto: word2vec on {cores} cores; gensim is then not "
            "bit-reproducible (the same seed gives slightly different vectors)"
        )
    return cores


def _build_classifier(cfg: DictConfig, store: Store, tmp: Path, run_dir: Path | None) -> dict:
    space = entries.read_space(cfg, store, "source")
    classes = entries.class_names(cfg, store)
    data = entries.read_labelled(cfg, store, "source", space, classes)
    m = cfg.model
    length = entries.max_len(cfg, store)
    if m.max_len == "auto":
        ui.info(
            f"model.max_len=auto: {length} tokens (the {m.max_len_percentile:g}th percentile of "
            "the source training documents' lengths, rounded up to 16s, at most "
            f"model.max_len_cap={m.max_len_cap})"
        )
    if data.n_cut:
        ui.info(f"source: {data.n_cut} of {len(data.ids)} documents cut to {length} tokens")
    matrix = entries.embedding_matrix(space.vectors)
    model = entries.build_model(
        cfg, matrix, len(classes), seed=cfg.seed, trainable_embeddings=m.trainable_embeddings
    )
    with ui.progress(f"source {m.name} epochs", m.epochs) as bar:
        history = fit_classifier(
            model,
            data.ids,
            data.labels,
            epochs=m.epochs,
            learning_rate=m.learning_rate,
            tensorboard_dir=tensorboard_dir(run_dir, "pretrain"),
            on_epoch=lambda epoch, logs: bar.advance(_epoch_note(logs)),
            **training_args(cfg),
        )
    return entries.write_classifier(tmp, model, matrix, history)


def _epoch_note(logs: dict) -> str:
    parts = [f"loss {logs['loss']:.3f}"] if "loss" in logs else []
    if "val_accuracy" in logs:
        parts.append(f"val acc {logs['val_accuracy']:.3f}")
    return ", ".join(parts)
