"""Checks of a composed config against the files it names, before any stage runs and before
TensorFlow's import: every `path` field of the schema exists with the right kind, labelled
files have a known format and their columns, pretrained vectors agree on their dimensions,
dictionaries parse, and the store and run folders can be written. Suspicious but legal
inputs (a test dictionary that overlaps the seed) are said as warnings.

Each check reads at most a header or a dictionary, never a corpus.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dtl_cli.errors import ConfigError, DataError, DtlError, warn
from dtl_cli.schema import PretrainedEmbedding, SeedSource, is_a, tagged

# Mapping methods whose map is square (orthogonal or the identity): equal dimensions only.
SQUARE_MAPS = ("procrustes", "self_learning", "none")


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
    _check_vector_dims(cfg)
    _check_dictionaries(cfg)


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
