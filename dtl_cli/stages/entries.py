"""Every store entry, by kind: its files, its key, its writer and its reader.

A key hashes only what its entry reads (config keys, input file fingerprints, upstream keys),
so a change reaches exactly the entries below it:

    corpus[source] ----> embeddings[source] --+--> classifier --+--> finetune[k, repeat]
    corpus[target] --+-> embeddings[target] --+--> map ---------+     (+ corpus[target])
    corpus[target_test] (scoring only; trains the target embeddings only when
                         embedding.transductive=true)
    map -> bli (+ the test dictionary, evaluation.bli.*)
    embeddings[target] + corpus[target] (+ corpus[source]) -> baseline[k, repeat]

Stages compute; they write and read entries only through this module, never another stage's
files by name. Keras is imported only by the functions that build or load models, so `dtl
store` can read `VERSIONS` and `FILES` without TensorFlow.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from dtl_cli.align.normalize import normalize
from dtl_cli.embed.io import load_saved_vectors, save_vectors
from dtl_cli.errors import DataError
from dtl_cli.schema import BilstmModel, CnnModel, Word2VecEmbedding, is_a
from dtl_cli.stages.common import config_values
from dtl_cli.store import Store, config_key
from dtl_cli.text.vocab import OOV, build_vocab, encode, length_from_data

if TYPE_CHECKING:
    import keras

# Bump a kind's version when its files or the code producing its numbers change: the key
# changes with it, so an older entry is never misread (it is rebuilt, and `dtl store gc`
# removes the old one).
VERSIONS = {
    "corpus": 1,
    "embeddings": 2,  # 2: gensim reads the corpus entry's token file (corpus_file)
    "classifier": 1,
    "map": 2,  # 2: linear fits target -> source on its own; self-learning drift guard
    "bli": 1,
    "adapted": 1,
    "finetune": 7,  # 5-7: the mix's target-only side calibrated before its EM (6: T <= 1;
    # 7: Platt's smoothed targets)
    "baseline": 5,  # 3-5: calibrated (adapt.calibration) before its own EM, as finetune 5-7
}
# kind -> its files (`?` = only for some configs), for docs/architecture.md and `dtl store`.
FILES = {
    "corpus": ("tokens.txt", "labels.json"),
    "embeddings": ("vectors.npy", "vectors.words.txt"),
    "classifier": ("weights.npz", "history.json"),
    "map": ("map.npz", "map.json"),
    "bli": ("bli.json", "induced_dictionary.tsv"),
    "finetune": ("weights.npz", "target_only.npz?", "finetune.json"),
    "adapted": ("weights.npz", "adapted.json"),
    "baseline": ("weights.npz?", "baseline.json"),
}
# corpus part -> (dataset side, labelled split); the source and target parts also hold the
# side's unlabelled files (after the labelled documents), for the embeddings.
PARTS = {
    "source": ("source", "train"),
    "target": ("target", "train"),
    "target_test": ("target", "test"),
}
SIDES = ("source", "target")


# ---------------------------------------------------------------------------------- keys


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def fingerprint(path: str | None) -> Any:
    """Size and SHA-256 of an input file's bytes, so an edited file invalidates its entries
    while a copied, moved or re-checked-out one (new path or modification time, same bytes)
    still finds them. A missing file is its absolute path; a folder (the `dir` format) the
    SHA-256 of its files' relative names and hashes."""
    if not path:
        return None
    if not os.path.exists(path):
        return [os.path.abspath(path), None, None]
    if os.path.isdir(path):
        return ["sha256-folder", _folder_hash(os.path.realpath(path))]
    stat = os.stat(path)
    return [
        "sha256",
        stat.st_size,
        _content_hash(os.path.realpath(path), stat.st_size, stat.st_mtime_ns),
    ]


@functools.cache
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    # Cached per process by (path, size, mtime): every stage of a run and every job of an
    # in-process sweep keys the same files; hashing reads the file once (about 1 s per GB).
    # Unbounded: a `dir` corpus (IMDB's layout) is tens of thousands of files, ~100 B each.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_hash(folder: str) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(_content_hash(str(file), stat.st_size, stat.st_mtime_ns).encode())
    return digest.hexdigest()


def _key(kind: str, payload: dict) -> str:
    return config_key(kind, payload, VERSIONS[kind])


def corpus_key(cfg: DictConfig, part: str) -> str:
    """Tokenised text of one corpus part: its files, columns, tokenizer and lower-casing."""
    side, split = PARTS[part]
    node = cfg.dataset[side]
    labelled = _plain(node[split])
    labelled["path"] = fingerprint(node[split].path)
    unlabelled = [] if part == "target_test" else [fingerprint(p) for p in node.unlabelled]
    payload = {
        "labelled": labelled,
        "unlabelled": unlabelled,
        "tokenizer": node.tokenizer,
        "lowercase": node.lowercase,
    }
    return _key("corpus", payload)


def embedding_parts(cfg: DictConfig, side: str) -> list[str]:
    """The corpus parts whose text trains `side`'s word2vec vectors."""
    if side == "target" and is_a(cfg.embedding, Word2VecEmbedding) and cfg.embedding.transductive:
        return ["target", "target_test"]
    return [side]


def embeddings_key(cfg: DictConfig, side: str) -> str:
    """Raw word vectors of one language: trained on its corpus parts, or read from a file."""
    e = cfg.embedding
    if e.method == "pretrained":
        path = e.source_vectors if side == "source" else e.target_vectors
        payload = {"file": fingerprint(path), "max_vocab": e.max_vocab, "lowercase": e.lowercase}
    else:
        payload = _plain(e)
        # normalize is applied when read; transductive decides `corpus` below.
        unused = ("source_vectors", "target_vectors", "lowercase", "normalize", "transductive")
        for name in unused:
            payload.pop(name, None)
        payload["seed"] = cfg.seed
        payload["corpus"] = [corpus_key(cfg, part) for part in embedding_parts(cfg, side)]
    return _key("embeddings", {"method": e.method, **payload})


def _space(cfg: DictConfig, side: str) -> dict:
    """What a reader of `side`'s normalised vectors depends on."""
    return {"embeddings": embeddings_key(cfg, side), "normalize": list(cfg.embedding.normalize)}


def _model(cfg: DictConfig) -> dict:
    model = _plain(cfg.model)
    model.pop("finetune", None)
    return model


def classifier_key(cfg: DictConfig) -> str:
    """The source classifier: source vectors and labelled text + `model.*` (not finetune)."""
    payload = {
        "model": _model(cfg),
        "space": _space(cfg, "source"),
        "corpus": corpus_key(cfg, "source"),
        "seed": cfg.seed,
    }
    return _key("classifier", payload)


def map_key(cfg: DictConfig) -> str:
    """The map: both spaces + `mapping.*` + the seed dictionary (when it seeds the map)."""
    m = cfg.mapping
    seeded_by_dictionary = m.seed == "dictionary"
    mapping = _plain(m)
    mapping.pop("carry_normalize", None)  # read by the entries that carry vectors (_carry)
    payload = {
        "mapping": mapping,
        "source": _space(cfg, "source"),
        "target": _space(cfg, "target"),
        "dictionary": fingerprint(cfg.dataset.dictionary.seed) if seeded_by_dictionary else None,
        "script": cfg.dataset.dictionary.script if seeded_by_dictionary else None,
        "seed": cfg.seed,
    }
    return _key("map", payload)


def bli_key(cfg: DictConfig) -> str:
    """BLI scores of the map on the test dictionary with `evaluation.bli.*`."""
    bli = cfg.evaluation.bli
    payload = {
        "map": map_key(cfg),
        "dictionary": fingerprint(cfg.dataset.dictionary.test),
        "script": cfg.dataset.dictionary.script,
        "bli": _plain(bli),
        # drop_seed_overlap reads the seed dictionary too
        "seed": fingerprint(cfg.dataset.dictionary.seed) if bli.drop_seed_overlap else None,
        **_carry(cfg),
    }
    return _key("bli", payload)


def adapted_key(cfg: DictConfig) -> str:
    """The transferred classifier adapted without labels: the source classifier and the map,
    the target text (pool + unlabelled files) and `model.finetune.adapt.*`; no k-shot label."""
    adapt = _plain(cfg.model.finetune.adapt)
    adapt.pop("calibration", None)  # the target-only side's, read by finetune and baseline
    payload = {
        "adapt": adapt,
        "classifier": classifier_key(cfg),
        "map": map_key(cfg),
        "corpus": corpus_key(cfg, "target"),
        "seed": cfg.seed,
        **_carry(cfg),
    }
    return _key("adapted", payload)


def _carry(cfg: DictConfig) -> dict:
    """How target vectors are carried (`carry_steps`); as carried by the map alone, the keys
    stay as they were."""
    steps = carry_steps(cfg)
    return {"carry": steps} if steps else {}


def finetune_key(cfg: DictConfig, k: int | str, repeat: int) -> str:
    """One fine-tuned classifier: k target examples (an int or "all"), sample `repeat`."""
    payload = {
        "finetune": _plain(cfg.model.finetune),
        "k": k,
        "repeat": repeat,
        "seed": cfg.seed,
        "adapted": adapted_key(cfg),
        **_dev(cfg),
    }
    return _key("finetune", payload)


def baseline_key(cfg: DictConfig, k: int | str, repeat: int) -> str:
    """The target-only baseline: the model over target vectors on the same k-shot sample (the
    source corpus gives the majority class for k = 0); not the map."""
    payload = {
        "model": _model(cfg),
        "label_shift": str(cfg.model.finetune.adapt.label_shift),
        "calibration": str(cfg.model.finetune.adapt.calibration),
        "space": _space(cfg, "target"),
        "corpus": [corpus_key(cfg, "target"), corpus_key(cfg, "source")],
        "k": k,
        "repeat": repeat,
        "seed": cfg.seed,
        **_dev(cfg),
    }
    return _key("baseline", payload)


def _dev(cfg: DictConfig) -> dict:
    """A dev split changes the k-shot pool; without one the keys stay as they were."""
    fraction = cfg.evaluation.dev_fraction
    return {"dev_fraction": float(fraction)} if fraction else {}


def all_keys(cfg: DictConfig, shots: Iterable[tuple[int | str, int]] = ()) -> dict[str, str]:
    """Every entry a config reads, as "kind[part]" -> key (for tests and run records)."""
    keys = {f"corpus[{part}]": corpus_key(cfg, part) for part in PARTS}
    keys |= {f"embeddings[{side}]": embeddings_key(cfg, side) for side in SIDES}
    keys |= {"classifier": classifier_key(cfg), "map": map_key(cfg), "bli": bli_key(cfg)}
    keys["adapted"] = adapted_key(cfg)
    for k, r in shots:
        keys[f"finetune[{k},{r}]"] = finetune_key(cfg, k, r)
        keys[f"baseline[{k},{r}]"] = baseline_key(cfg, k, r)
    return keys


def build(
    store: Store, kind: str, key: str, write: Callable[[Path], dict | None]
) -> tuple[Path, bool]:
    """(entry folder, was cached): `write(tmp)` fills a missing (or damaged) entry."""
    return store.get_or_build(kind, key, write, meta={"version": VERSIONS[kind]})


def old_kinds(store: Store) -> list[str]:
    """Folders of the store that hold no current kind of entry (an older dtl's layout, e.g.
    `pretrain/`, `vectors/`): never read, so their work is redone."""
    if not store.root.is_dir():
        return []
    return sorted(
        p.name
        for p in store.root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in VERSIONS
    )


def record(kind: str, key: str, cached: bool) -> dict:
    """How a run's `run.json` names an entry it used (`dtl store gc --unreferenced` reads it)."""
    return {"kind": kind, "key": key, "cached": cached}


def _require(store: Store, kind: str, key: str, what: str) -> Path:
    if not store.has(kind, key):
        raise DataError(
            f"the store has no {what} entry {kind}/{key} for this config; run the "
            "verb that builds it first (e.g. `dtl run`)"
        )
    return store.path(kind, key)


@contextmanager
def loading(store: Store, kind: str, key: str, name: str) -> Iterator[None]:
    """Within: reading file `name` of the complete entry kind/key. A failure (a library's
    BadZipFile, ValueError, UnicodeDecodeError...) becomes `store.unreadable`: DamagedEntry
    when the files differ from their checksums (the pipeline rebuilds the entry), else one
    line naming the entry and file."""
    try:
        yield
    except Exception as err:
        raise store.unreadable(kind, key, name, err) from None


def _json(store: Store, kind: str, key: str, name: str) -> Any:
    with loading(store, kind, key, name):
        return json.loads((store.path(kind, key) / name).read_text(encoding="utf-8"))


def _arrays(store: Store, kind: str, key: str, name: str) -> dict[str, np.ndarray]:
    """Every array of an entry's `.npz` file, read at once (so a damaged member fails here)."""
    with loading(store, kind, key, name), np.load(store.path(kind, key) / name) as saved:
        return {member: saved[member] for member in saved.files}


# ---------------------------------------------------------------------------------- corpus


def write_corpus(
    folder: Path,
    documents: Iterable[list[str]],
    labels: list[str],
    unlabelled: Iterable[list[str]] = (),
) -> dict:
    """Corpus entry: `tokens.txt` (one space-joined document per line: the labelled ones,
    in order, then the non-empty unlabelled ones) and `labels.json` (the labelled ones')."""
    counts = {"labelled": 0, "unlabelled": 0, "tokens": 0}
    with open(folder / "tokens.txt", "w", encoding="utf-8") as out:
        for tokens in documents:
            out.write(" ".join(tokens) + "\n")
            counts["labelled"] += 1
            counts["tokens"] += len(tokens)
        for tokens in unlabelled:
            if tokens:
                out.write(" ".join(tokens) + "\n")
                counts["unlabelled"] += 1
                counts["tokens"] += len(tokens)
    if counts["labelled"] != len(labels):
        raise ValueError(f"{counts['labelled']} labelled documents but {len(labels)} labels")
    (folder / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    return counts


class TokenFile:
    """Documents of token files, one per line, re-read on each pass (for word2vec)."""

    def __init__(self, *paths: Path, limit: int | None = None):
        self.paths = paths
        self.limit = limit

    def __iter__(self) -> Iterator[list[str]]:
        for path in self.paths:
            with open(path, encoding="utf-8") as handle:
                for n, line in enumerate(handle):
                    if self.limit is not None and n >= self.limit:
                        break
                    yield line.split()


@dataclass
class Corpus:
    """A corpus entry: `labels` (str, one per labelled document), `n_tokens` in all."""

    entry: Path
    labels: list[str]
    n_tokens: int
    store: Store | None = None  # where a failed read is checked (see `loading`)

    @property
    def token_file(self) -> Path:
        return self.entry / "tokens.txt"

    def documents(self) -> list[list[str]]:
        """Token lists of the labelled documents, in file order (not truncated)."""
        if self.store is None:
            return list(TokenFile(self.token_file, limit=len(self.labels)))
        with loading(self.store, "corpus", self.entry.name, "tokens.txt"):
            return list(TokenFile(self.token_file, limit=len(self.labels)))


def read_corpus(cfg: DictConfig, store: Store, part: str) -> Corpus:
    key = corpus_key(cfg, part)
    entry = _require(store, "corpus", key, f"corpus[{part}]")
    labels = _json(store, "corpus", key, "labels.json")
    n_tokens = store.entry_info("corpus", key)["summary"]["tokens"]
    return Corpus(entry, labels, n_tokens, store)


def class_names(cfg: DictConfig, store: Store) -> list[str]:
    """The classes: the source training labels, sorted."""
    return sorted(set(read_corpus(cfg, store, "source").labels))


def class_ids(labels: list[str], classes: list[str], file: str, config_key: str) -> np.ndarray:
    """Labels as int64 ids into `classes`; DataError naming the first label not among them."""
    index = {c: i for i, c in enumerate(classes)}
    for row, label in enumerate(labels):
        if label not in index:
            shown = ", ".join(c[:40] for c in classes[:10])
            shown += f", ... ({len(classes)} in all)" if len(classes) > 10 else ""
            raise DataError(
                f"{file}: label {label[:80]!r} (row {row + 1}) never occurs in the source "
                f"training data (source labels: {shown}); relabel it or drop it [{config_key}]"
            )
    return np.array([index[label] for label in labels], dtype=np.int64)


# ---------------------------------------------------------------------------------- embeddings


def write_embeddings(folder: Path, words: list[str], vectors: np.ndarray) -> dict:
    """Embeddings entry: the raw vectors (`vectors.npy` float32 [V, dim], `vectors.words.txt`)."""
    save_vectors(folder / "vectors", words, vectors)
    return {"words": len(words), "dim": int(vectors.shape[1])}


@dataclass
class Space:
    """One language's normalised vectors [V, dim] float32 and its word -> token id index
    (ids 0 and 1 are padding and unknown; word i has id i + 2)."""

    words: list[str]
    vectors: np.ndarray
    index: dict[str, int]


def read_raw_embeddings(cfg: DictConfig, store: Store, side: str) -> tuple[list[str], np.ndarray]:
    """(words, raw vectors float32 [V, dim]) as trained or loaded, before normalisation."""
    key = embeddings_key(cfg, side)
    entry = _require(store, "embeddings", key, f"embeddings[{side}]")
    with loading(store, "embeddings", key, "vectors.npy"):
        return load_saved_vectors(entry / "vectors")


def read_space(cfg: DictConfig, store: Store, side: str) -> Space:
    """`side`'s vectors normalised by `embedding.normalize`, with their token index."""
    words, raw = read_raw_embeddings(cfg, store, side)
    return Space(words, normalize(raw, list(cfg.embedding.normalize)), build_vocab(words))


def embedding_matrix(vectors: np.ndarray) -> np.ndarray:
    """Rows for token ids: 0 = padding and 1 = unknown word (both zero), then one per word."""
    dim = vectors.shape[1]
    return np.vstack([np.zeros((2, dim), dtype=np.float32), vectors.astype(np.float32)])


def token_ids(
    documents: list[list[str]], index: dict[str, int], max_len: int
) -> tuple[np.ndarray, int]:
    """Token ids [n, max_len] (documents cut to `max_len` here, not in the corpus entry) and
    how many were cut; an empty document gets one unknown token, so it averages to zero."""
    ids, n_cut = encode(documents, index, max_len)
    ids[ids.max(axis=1) == 0, 0] = OOV
    return ids, n_cut


@dataclass
class Labelled:
    """A labelled split ready for a classifier: ids [n, max_len] int32, labels [n] int64."""

    ids: np.ndarray
    labels: np.ndarray
    n_cut: int


def read_labelled(
    cfg: DictConfig, store: Store, part: str, space: Space, classes: list[str]
) -> Labelled:
    """Corpus part `part` encoded over `space`'s index, cut to `model.max_len`."""
    side, split = PARTS[part]
    corpus = read_corpus(cfg, store, part)
    where = f"dataset.{side}.{split}"
    labels = class_ids(corpus.labels, classes, cfg.dataset[side][split].path, where)
    ids, n_cut = token_ids(corpus.documents(), space.index, max_len(cfg, store))
    return Labelled(ids, labels, n_cut)


def read_unlabelled(cfg: DictConfig, store: Store, part: str, space: Space) -> np.ndarray:
    """Ids [n, max_len] of corpus part `part`'s unlabelled documents (its configured
    unlabelled files, empty lines dropped), encoded over `space`'s index."""
    corpus = read_corpus(cfg, store, part)
    with (
        loading(store, "corpus", corpus.entry.name, "tokens.txt"),
        open(corpus.token_file, encoding="utf-8") as handle,
    ):
        documents = [line.split() for n, line in enumerate(handle) if n >= len(corpus.labels)]
    return token_ids(documents, space.index, max_len(cfg, store))[0]


def max_len(cfg: DictConfig, store: Store) -> int:
    """`model.max_len`, or for `auto` the `max_len_percentile` of the source training
    documents' lengths in tokens, rounded up to 16s, at most `max_len_cap`."""
    m = cfg.model
    if m.max_len != "auto":
        return int(m.max_len)
    corpus = read_corpus(cfg, store, "source")
    with loading(store, "corpus", corpus.entry.name, "tokens.txt"):
        return _auto_max_len(
            corpus.token_file, len(corpus.labels), m.max_len_percentile, m.max_len_cap
        )


@functools.lru_cache(maxsize=8)
def _auto_max_len(token_file: Path, n_labelled: int, percentile: float, cap: int) -> int:
    lengths = [len(doc) for doc in TokenFile(token_file, limit=n_labelled)]
    return length_from_data(lengths, percentile=percentile, cap=cap)


# ---------------------------------------------------------------------------------- models


def save_weights(path: Path, model: keras.Model, base_matrix: np.ndarray) -> dict:
    """Compact weights: every layer's arrays except the embedding, which is stored only as the
    rows that differ from `base_matrix` (none for frozen embeddings). Returns sizes."""
    from dtl_cli.models.classifier import EMBEDDING_LAYER

    arrays: dict[str, np.ndarray] = {}
    changed = np.zeros(0, dtype=np.int64)
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name == EMBEDDING_LAYER:
            (matrix,) = weights
            changed = np.flatnonzero(np.any(matrix != base_matrix, axis=1))
            arrays["embedding:rows"] = changed
            arrays["embedding:values"] = matrix[changed]
            continue
        for i, value in enumerate(weights):
            arrays[f"{layer.name}:{i}"] = value
    np.savez(path, **arrays)
    return {"changed_embedding_rows": int(len(changed))}


def load_weights(path: Path, model: keras.Model) -> keras.Model:
    """Put weights saved by `save_weights` into `model`, built over the same base matrix."""
    with np.load(path) as saved:
        return set_weights({name: saved[name] for name in saved.files}, model)


def set_weights(saved: dict[str, np.ndarray], model: keras.Model) -> keras.Model:
    """`load_weights` from the arrays of a `save_weights` file."""
    from dtl_cli.models.classifier import EMBEDDING_LAYER

    for layer in model.layers:
        if layer.name == EMBEDDING_LAYER:
            rows = saved["embedding:rows"]
            if len(rows):
                (matrix,) = layer.get_weights()
                matrix[rows] = saved["embedding:values"]
                layer.set_weights([matrix])
        elif layer.weights:
            layer.set_weights([saved[f"{layer.name}:{i}"] for i in range(len(layer.weights))])
    return model


def build_model(
    cfg: DictConfig,
    matrix: np.ndarray,
    n_classes: int,
    seed: int | None = None,
    trainable_embeddings: bool = False,
):
    """A fresh classifier of `cfg.model` over `matrix` [vocab, dim] (seeded first when `seed`
    is given)."""
    import keras

    from dtl_cli.models.classifier import Architecture, build_classifier

    m = cfg.model
    encoder = {}  # the options of this architecture's encoder (CnnModel, BilstmModel)
    if is_a(m, CnnModel):
        encoder = {"filters": m.filters, "kernel_sizes": tuple(m.kernel_sizes)}
    elif is_a(m, BilstmModel):
        encoder = {"lstm_units": m.lstm_units}
    arch = Architecture(
        name=str(m.name),
        hidden=tuple(m.hidden),
        dropout=m.dropout,
        normalize_encoding=m.adapt_norm,
        **encoder,
    )
    if seed is not None:
        keras.utils.set_random_seed(seed)
    with config_values("model.*"):
        return build_classifier(arch, matrix, n_classes, trainable_embeddings=trainable_embeddings)


def write_classifier(folder: Path, model, base_matrix: np.ndarray, history: dict) -> dict:
    """Source classifier entry: compact `weights.npz` + `history.json` (Keras fit history)."""
    sizes = save_weights(folder / "weights.npz", model, base_matrix)
    (folder / "history.json").write_text(json.dumps(history))
    return {"epochs": len(history.get("loss", [])), **sizes}


def source_history(cfg: DictConfig, store: Store) -> dict:
    key = classifier_key(cfg)
    _require(store, "classifier", key, "source classifier")
    return _json(store, "classifier", key, "history.json")


def read_classifier(cfg: DictConfig, store: Store, base_matrix: np.ndarray, n_classes: int):
    """The source classifier, rebuilt over `base_matrix` (the source embedding matrix)."""
    key = classifier_key(cfg)
    _require(store, "classifier", key, "source classifier")
    saved = _arrays(store, "classifier", key, "weights.npz")
    return set_weights(saved, build_model(cfg, base_matrix, n_classes))


# ---------------------------------------------------------------------------------- map, BLI


@dataclass
class Map:
    """f(x) = W x + b, source -> target: W [d_t, d_s], b [d_t] (whatever `mapping.direction`);
    W_reverse [d_s, d_t], b_reverse [d_s]: target -> source; with the multi-step framework
    also `shared` = (W_shared, b_shared), target -> the shared space where BLI is measured.
    `info`: seed pairs used/dropped and, for self-learning, `history` (one dict per iteration)."""

    W: np.ndarray
    b: np.ndarray
    W_reverse: np.ndarray
    b_reverse: np.ndarray
    shared: tuple[np.ndarray, np.ndarray] | None
    info: dict


def write_map(folder: Path, fitted: Map) -> None:
    """Map entry: `map.npz` (W, b, W_reverse, b_reverse, and W_shared, b_shared when present)
    and `map.json` (`fitted.info`)."""
    arrays = {"W": fitted.W, "b": fitted.b, "W_reverse": fitted.W_reverse}
    arrays["b_reverse"] = fitted.b_reverse
    if fitted.shared is not None:
        arrays["W_shared"], arrays["b_shared"] = fitted.shared
    np.savez(folder / "map.npz", **{k: v.astype(np.float32) for k, v in arrays.items()})
    (folder / "map.json").write_text(json.dumps(fitted.info, indent=2))


def read_map(cfg: DictConfig, store: Store) -> Map:
    key = map_key(cfg)
    _require(store, "map", key, "map")
    saved = _arrays(store, "map", key, "map.npz")
    with loading(store, "map", key, "map.npz"):
        shared = (saved["W_shared"], saved["b_shared"]) if "W_shared" in saved else None
        arrays = [saved[name] for name in ("W", "b", "W_reverse", "b_reverse")]
    return Map(*arrays, shared, _json(store, "map", key, "map.json"))


def write_bli(folder: Path, bli: dict, induced: list[tuple[str, str, float]]) -> None:
    """BLI entry: `bli.json` and `induced_dictionary.tsv` (source, target, CSLS score)."""
    (folder / "bli.json").write_text(json.dumps(bli, indent=2))
    with open(folder / "induced_dictionary.tsv", "w", encoding="utf-8") as out:
        out.write("source\ttarget\tcsls\n")
        out.writelines(f"{s}\t{t}\t{score:.4f}\n" for s, t, score in induced)


def read_bli(cfg: DictConfig, store: Store) -> dict:
    key = bli_key(cfg)
    _require(store, "bli", key, "BLI")
    return _json(store, "bli", key, "bli.json")


def read_induced_dictionary(cfg: DictConfig, store: Store) -> list[tuple[str, str]]:
    """The (source word, target word) pairs BLI induced, best first; [] without a BLI entry
    (a run with no test dictionary)."""
    key = bli_key(cfg)
    if not store.has("bli", key):
        return []
    path = store.path("bli", key) / "induced_dictionary.tsv"
    with loading(store, "bli", key, "induced_dictionary.tsv"):
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
        return [tuple(line.split("\t")[:2]) for line in lines]


# ---------------------------------------------------------------------------------- finetune


def carry_steps(cfg: DictConfig) -> list[str]:
    """Normalisation steps the carried target vectors get: the source space's
    (`embedding.normalize`) with `mapping.carry_normalize`, else none."""
    if not cfg.mapping.carry_normalize:
        return []
    return [str(step) for step in cfg.embedding.normalize]


def carried_target_vectors(cfg: DictConfig, store: Store, target: Space) -> np.ndarray:
    """Target vectors carried into the source space [V_t, d_s] by the map fitted target ->
    source (for linear not the inverse of W, b), normalised by `carry_steps`: the
    classifier was trained there."""
    from dtl_cli.align.learn import carry_vectors

    fitted = read_map(cfg, store)
    return carry_vectors(target.vectors, fitted.W_reverse, fitted.b_reverse, carry_steps(cfg))


def write_trained(
    folder: Path, kind: str, model, base_matrix: np.ndarray | None, info: dict
) -> dict:
    """Finetune or baseline entry: compact `weights.npz` (unless `model` is None: a majority
    baseline) and `<kind>.json` (k, repeat, strategy, sample, history...)."""
    sizes = {} if model is None else save_weights(folder / "weights.npz", model, base_matrix)
    (folder / f"{kind}.json").write_text(json.dumps(info))
    return sizes


def write_adapted(folder: Path, model, base_matrix: np.ndarray, record: dict) -> dict:
    """Adapted entry: compact `weights.npz` over the carried target vectors `base_matrix`
    and `adapted.json` (what the adaptation did: priors, self-training rounds)."""
    sizes = save_weights(folder / "weights.npz", model, base_matrix)
    (folder / "adapted.json").write_text(json.dumps(record))
    return sizes


def read_adapted(cfg: DictConfig, store: Store, matrix: np.ndarray, n_classes: int):
    """(the adapted classifier over the carried matrix [V_t + 2, d], its record)."""
    key = adapted_key(cfg)
    _require(store, "adapted", key, "adapted")
    model = build_model(cfg, matrix, n_classes, cfg.seed)
    set_weights(_arrays(store, "adapted", key, "weights.npz"), model)
    return model, _json(store, "adapted", key, "adapted.json")


def write_target_only(folder: Path, model, base_matrix: np.ndarray) -> dict:
    """A finetune entry's target-only part (model.finetune.combine=ensemble): compact
    `target_only.npz` over the target vectors; `finetune.json` holds the mix weight."""
    sizes = save_weights(folder / "target_only.npz", model, base_matrix)
    return {"target_only_" + name: value for name, value in sizes.items()}


@dataclass
class Trained:
    """A fine-tuned or baseline classifier with what it needs to read new text.

    `model` is None for a majority baseline (predict `info["class"]`); `space` is the
    vocabulary the model's token ids index; tokenizer and lowercase are the target side's."""

    model: Any
    info: dict
    space: Space
    classes: list[str]
    tokenizer: str
    lowercase: bool
    max_len: int

    def predict(self, ids: np.ndarray) -> np.ndarray:
        """Class ids [n] for token ids [n, length]."""
        if self.model is None:
            return np.full(len(ids), self.info["class"], dtype=np.int64)
        from dtl_cli.models.training import predict_classes

        return predict_classes(self.model, ids)


def read_trained(
    cfg: DictConfig,
    store: Store,
    kind: str,
    k: int | str,
    repeat: int,
    target: Space | None = None,
    carried: np.ndarray | None = None,
) -> Trained:
    """The finetune or baseline entry of (k, repeat), its model rebuilt over the upstream
    embeddings. `target` and `carried` may be passed in to skip re-reading them."""
    key = finetune_key(cfg, k, repeat) if kind == "finetune" else baseline_key(cfg, k, repeat)
    entry = _require(store, kind, key, f"{kind} k={k} repeat={repeat}")
    info = _json(store, kind, key, f"{kind}.json")
    target = target or read_space(cfg, store, "target")
    classes = class_names(cfg, store)
    model = None
    if (entry / "weights.npz").is_file():
        if kind == "finetune":
            vectors = carried if carried is not None else carried_target_vectors(cfg, store, target)
        else:
            vectors = target.vectors
        model = build_model(cfg, embedding_matrix(vectors), len(classes))
        set_weights(_arrays(store, kind, key, "weights.npz"), model)
    if (entry / "target_only.npz").is_file():
        from dtl_cli.models.classifier import weighted_ensemble

        target_only = build_model(cfg, embedding_matrix(target.vectors), len(classes))
        target_only.name = "target_only"
        set_weights(_arrays(store, kind, key, "target_only.npz"), target_only)
        model = weighted_ensemble(model, target_only, info["combine"]["weight"])
    side = cfg.dataset.target
    length = max_len(cfg, store)
    return Trained(model, info, target, classes, side.tokenizer, side.lowercase, length)
