"""Checks of a composed config against the files it names, before any stage runs and before
TensorFlow's import: every `path` field of the schema exists with the right kind, labelled
files have a known format and their columns, pretrained vectors agree on their dimensions,
dictionaries parse, and the store and run folders can be written. Suspicious but legal
inputs (a test dictionary that overlaps the seed, a small test split) are said as warnings.

Each check reads at most a header, a dictionary or a labelled file (its labels are taken
from the store's corpus entry when there is one), never an unlabelled corpus or vectors.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import tempfile
import urllib.parse
import zlib
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dtl_cli.errors import ConfigError, DataError, DtlError, warn
from dtl_cli.schema import PretrainedEmbedding, SeedSource, is_a, tagged

# Mapping methods whose map is square (orthogonal or the identity): equal dimensions only.
SQUARE_MAPS = ("procrustes", "self_learning", "none")
# Fewer test documents than this: one document moves accuracy by more than 5 points.
MIN_TEST_DOCUMENTS = 20
# More source classes than this and than half the documents: likely not a label column.
MANY_CLASSES = 50


def preflight(cfg: DictConfig) -> None:
    """Raise a DtlError naming the key for the first input that cannot work; warn on the
    suspicious ones."""
    for key, value, kind, node in tagged(cfg, "path"):
        values = list(value) if not isinstance(value, str) else [value]
        for i, item in enumerate(values):
            shown = f"{key}[{i}]" if not isinstance(value, str) else key
            _check_path(shown, str(item), kind, node)
    for key in ("paths.store", "paths.output"):
        check_writable_folder(key, str(OmegaConf.select(cfg, key)))
    _check_tracking(cfg)
    _check_vector_dims(cfg)
    _check_dictionaries(cfg)
    _check_labels(cfg)
    _check_unlabelled(cfg)


def _check_path(key: str, value: str, kind: str, node: DictConfig) -> None:
    path = Path(value)
    if not path.exists():
        raise DataError(f"{key}={value}: no such file or folder; check the path")
    if kind == "data":
        _check_labelled(key, path, node)
    elif kind == "file" and not path.is_file():
        raise DataError(f"{key}={value}: is a folder, not a file; give the file itself")
    elif kind == "folder" and not path.is_dir():
        raise DataError(f"{key}={value}: is a file, not a folder")
    if path.is_file() and not os.access(path, os.R_OK):
        raise DataError(f"{key}={value}: permission denied; make the file readable")


def _check_labelled(key: str, path: Path, node: DictConfig) -> None:
    """A labelled corpus: a known format for what the path is, and its columns (CSV/TSV)."""
    from dtl_cli.text.readers import peek_columns, resolve_format

    owner = key.rsplit(".", 1)[0]
    if node.text_column == node.label_column:
        raise ConfigError(
            f"{owner}.text_column and {owner}.label_column are both '{node.text_column}'; "
            "name the label column"
        )
    try:
        fmt = resolve_format(path, str(node.format))
        columns = peek_columns(path, fmt)
    except DataError as err:
        raise DataError(f"{err} [{owner}]") from None
    for wanted, column_key in (
        (node.text_column, "text_column"),
        (node.label_column, "label_column"),
    ):
        if columns is not None and wanted not in columns:
            tabbed = fmt == "csv" and any("\t" in c for c in columns)
            fix = f"{owner}.format=tsv" if tabbed else f"{owner}.{column_key}"
            raise DataError(
                f"{path}: no column '{wanted}' (columns: {', '.join(columns)}); set {fix}"
            )


def check_writable_folder(key: str, value: str) -> None:
    """`value` is, or can be made, a folder this process can write into: its nearest existing
    folder takes a probe file (removed at once; nothing is created)."""
    env = {"paths.store": "DTL_STORE", "paths.output": "DTL_OUTPUT"}.get(key)
    fix = f"set {env} (or {key}=...)" if env else f"set {key}=..."
    fix += " to a folder you can write"
    if not value.strip():  # e.g. DTL_STORE= : the current folder would fill with entries
        empty = f" ({env} is set but empty)" if env and env in os.environ else ""
        raise ConfigError(f"{key} is empty{empty}; {fix}")
    path = Path(value)
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(f"{key}={value}: {blocker} is a file, not a folder; {fix}")
    try:
        with tempfile.TemporaryFile(dir=blocker or "."):
            pass
    except OSError as err:
        reason = os_reason(err)
        raise ConfigError(f"{key}={value}: cannot write there ({reason}); {fix}") from None


def _check_tracking(cfg: DictConfig) -> None:
    """With logger=mlflow, a local `logger.tracking_uri` (a path or file: URI) can be written
    (the default, under paths.output, is checked with it; a server is not contacted)."""
    logger = cfg.get("logger")
    uri = str(logger.tracking_uri) if logger and logger.mlflow and logger.tracking_uri else ""
    if uri.startswith("file:"):
        check_writable_folder("logger.tracking_uri", urllib.parse.urlparse(uri).path)
    elif uri and "://" not in uri:
        check_writable_folder("logger.tracking_uri", uri)


def os_reason(err: OSError) -> str:
    """A short reason for an OSError, e.g. "no space left on the device"."""
    reasons = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EFBIG: "file-size limit reached",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOTDIR: "a part of the path is a file",
    }
    return reasons.get(err.errno, err.strerror or str(err))


def _check_vector_dims(cfg: DictConfig) -> None:
    emb = cfg.embedding
    if not is_a(emb, PretrainedEmbedding):
        return
    from dtl_cli.embed.io import vector_header

    dims = {}
    for key in ("source_vectors", "target_vectors"):
        try:
            dims[key] = vector_header(emb[key])[1]
        except DataError as err:
            raise DataError(f"{err} [embedding.{key}]") from None
    method = str(cfg.mapping.method)
    if dims["source_vectors"] != dims["target_vectors"] and method in SQUARE_MAPS:
        raise ConfigError(
            f"embedding.source_vectors has {dims['source_vectors']} dimensions but "
            f"embedding.target_vectors {dims['target_vectors']}; mapping={method} needs equal "
            "ones: use vectors of one size, or mapping=linear"
        )


def _check_dictionaries(cfg: DictConfig) -> None:
    from dtl_cli.align.bli import read_dictionary, seed_overlap

    pairs = {}
    for key in ("seed", "test"):
        try:
            pairs[key] = read_dictionary(cfg.dataset.dictionary[key])
        except DtlError as err:
            raise DataError(f"{err} [dataset.dictionary.{key}]") from None
    if cfg.mapping.seed != SeedSource.dictionary:
        return
    shared = len(seed_overlap(pairs["test"], pairs["seed"]))
    if shared == len(pairs["test"]) and cfg.evaluation.bli.drop_seed_overlap:
        raise DataError(
            f"{cfg.dataset.dictionary.test}: every test pair has a source word of the seed "
            "dictionary, so evaluation.bli.drop_seed_overlap=true leaves none; give a held-out "
            "test dictionary [dataset.dictionary.test]"
        )
    if shared and not cfg.evaluation.bli.drop_seed_overlap:
        warn(
            f"{shared} of {len(pairs['test'])} test dictionary pairs have a source word the seed "
            "dictionary has (dataset.dictionary.seed, .test): BLI is then not held out; "
            "evaluation.bli.drop_seed_overlap=true scores only the others"
        )


def _check_labels(cfg: DictConfig) -> None:
    """Read the labelled files' labels once: two source classes or more, target labels the
    source has, `evaluation.k` within the target pool; warn on a small test split."""
    from dtl_cli.stages.entries import PARTS, class_ids

    labels = {part: _labels(cfg, part) for part in PARTS}
    classes = sorted(set(labels["source"]))
    if len(classes) < 2:
        raise DataError(
            f"{cfg.dataset.source.train.path}: only one label ({classes[0]!r}); a classifier "
            "needs at least two [dataset.source.train]"
        )
    if len(classes) > max(MANY_CLASSES, len(labels["source"]) // 2):
        warn(
            f"{cfg.dataset.source.train.path}: {len(classes)} distinct labels in "
            f"{len(labels['source'])} documents; is dataset.source.train.label_column "
            f"('{cfg.dataset.source.train.label_column}') the label?"
        )
    for part in ("target", "target_test"):
        side, split = PARTS[part]
        class_ids(labels[part], classes, cfg.dataset[side][split].path, f"dataset.{side}.{split}")
    train, test = cfg.dataset.target.train.path, cfg.dataset.target.test.path
    if os.path.samefile(train, test):
        warn(
            f"{test}: dataset.target.test is the same file as dataset.target.train, so the "
            "test split is not held out (k-shot samples and the adaptation see its documents); "
            "give a separate test file"
        )
    n_test = len(labels["target_test"])
    if n_test < MIN_TEST_DOCUMENTS:
        warn(
            f"{cfg.dataset.target.test.path}: the test split has only {n_test} documents "
            f"(dataset.target.test): one document moves accuracy by {100 / n_test:.0f} points; "
            f"use {MIN_TEST_DOCUMENTS} or more for numbers worth comparing"
        )
    _check_k(cfg, labels["target"])


def _check_k(cfg: DictConfig, labels: list[str]) -> None:
    """The largest `evaluation.k` fits the target training pool (the split minus dev)."""
    import numpy as np

    from dtl_cli.splits import dev_split
    from dtl_cli.stages.common import dev_fraction, k_values

    wanted = [k for k in k_values(cfg) if k != "all"]
    if not wanted:
        return
    if 1 in wanted:
        raise ConfigError(
            "evaluation.k=1: one example has one label, and the k-shot classifiers need two; "
            f"use evaluation.k >= 2 ({len(set(labels))} gives every target class one)"
        )
    fraction = dev_fraction(cfg)
    dev, pool = dev_split(np.asarray(labels), fraction, int(cfg.seed))
    if max(wanted) > len(pool):
        held = f", {len(dev)} of them held out as dev (evaluation.dev_fraction={fraction})"
        raise ConfigError(
            f"evaluation.k={max(wanted)} but the target training pool has only {len(pool)} "
            f"examples ({cfg.dataset.target.train.path}: {len(labels)} documents"
            f"{held if len(dev) else ''}); use evaluation.k<={len(pool)} or evaluation.k=all"
        )


def _labels(cfg: DictConfig, part: str) -> list[str]:
    """A corpus part's labels: from its store entry when there is a sound one, else read
    from the labelled file (once per file version in a process)."""
    from dtl_cli.stages.entries import PARTS, corpus_key
    from dtl_cli.store import Store

    store, key = Store(cfg.paths.store), corpus_key(cfg, part)
    if store.has("corpus", key):
        try:
            return json.loads((store.path("corpus", key) / "labels.json").read_text("utf-8"))
        except (OSError, ValueError):
            pass  # a damaged entry: the file says it, and pretrain rebuilds the entry
    side, split = PARTS[part]
    node = cfg.dataset[side][split]
    stat = os.stat(node.path)
    columns = (str(node.format), str(node.text_column), str(node.label_column))
    try:
        return list(_file_labels(str(node.path), stat.st_size, stat.st_mtime_ns, *columns))
    except DataError as err:
        raise DataError(f"{err} [dataset.{side}.{split}]") from None


@functools.lru_cache(maxsize=8)
def _file_labels(
    path: str, size: int, mtime: int, fmt: str, text_column: str, label_column: str
) -> tuple[str, ...]:
    """The labels of a labelled file, read as pretrain reads it (the same checks of every
    row); `size` and `mtime` key the cache."""
    from dtl_cli.text.readers import read_labelled

    frame = read_labelled(path, fmt=fmt, text_column=text_column, label_column=label_column)
    return tuple(frame["label"])


def _check_unlabelled(cfg: DictConfig) -> None:
    """Each `.gz` unlabelled file ends where gzip says (not truncated), unless its side's
    corpus entry is stored already (the file is then not read)."""
    from dtl_cli.stages.entries import SIDES, corpus_key
    from dtl_cli.store import Store

    store = Store(cfg.paths.store)
    for side in SIDES:
        files = [str(f) for f in cfg.dataset[side].unlabelled]
        for i, file in enumerate(files):
            _say_suspicious_unlabelled(cfg, f"dataset.{side}.unlabelled[{i}]", file)
        if not any(f.endswith(".gz") for f in files) or store.has("corpus", corpus_key(cfg, side)):
            continue
        for i, file in enumerate(files):
            stat = os.stat(file)
            if file.endswith(".gz") and not _gzip_complete(file, stat.st_size, stat.st_mtime_ns):
                raise DataError(
                    f"{file}: the gzip data is cut short or damaged; copy or compress the "
                    f"file again [dataset.{side}.unlabelled[{i}]]"
                )


def _say_suspicious_unlabelled(cfg: DictConfig, key: str, file: str) -> None:
    """Warn on an unlabelled file that is empty, a labelled table (read as lines, its header
    and labels become text) or the target test split itself (then not held out)."""
    from dtl_cli.text.readers import data_suffix

    if os.path.getsize(file) == 0:
        warn(f"{file}: empty file; it adds no text ({key})")
    if os.path.samefile(file, cfg.dataset.target.test.path):
        warn(
            f"{file}: {key} is the target test file: its text would train the embeddings and "
            "the adaptation, so the test split is not held out; leave it out"
        )
    elif data_suffix(Path(file)) in (".csv", ".tsv", ".jsonl", ".json"):
        warn(
            f"{file}: {key} is read as plain text, one document per line: a table's header "
            "and label column become text too; give its text column as a .txt file"
        )


@functools.lru_cache(maxsize=8)
def _gzip_complete(path: str, size: int, mtime: int) -> bool:
    """Whether every gzip member of `path` decompresses to its end (about 0.2 s per 10 MB;
    nothing is kept). `size` and `mtime` key the cache."""
    with open(path, "rb") as handle:
        stream = zlib.decompressobj(wbits=31)
        try:
            while chunk := handle.read(1 << 20):
                while chunk:
                    stream.decompress(chunk, 1 << 16)
                    chunk = stream.unconsumed_tail
                    if stream.eof and stream.unused_data:  # the next member
                        chunk, stream = stream.unused_data + chunk, zlib.decompressobj(wbits=31)
        except zlib.error:
            return False
    return stream.eof
