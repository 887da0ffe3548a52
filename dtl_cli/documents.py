"""Unlabelled documents to classify: a text file (one per line), CSV/TSV/JSONL with a text
column, or standard input. Plain values only."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pandas as pd

from dtl_cli.errors import DataError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = (".jsonl", ".json")


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _read_text(path: Path | None) -> str:
    if path is None:
        data = sys.stdin.buffer.read()
        name = "standard input"
    else:
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as handle:
                data = handle.read()
        except (OSError, EOFError) as err:
            raise DataError(f"{path}: cannot read ({err})") from None
        name = str(path)
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(f"{name}:{line}: not UTF-8; re-save it as UTF-8") from None


def read_documents(path: str | None, text_column: str = "text") -> list[str]:
    """The documents in `path` (None or "-": standard input, one per line).

    `.txt` and anything else: one document per line, blank lines kept as empty documents (so
    output row i is input line i). `.csv`/`.tsv` (header row) and `.jsonl` (an object per
    line): the `text_column` of each row. `.gz` after any of them is read compressed.
    """
    file = None if path in (None, "-") else Path(path)
    if file is not None and not file.is_file():
        raise DataError(f"{file}: no such file; give a .txt, .csv, .tsv or .jsonl file, or -")
    suffix = _suffix(file) if file is not None else ""
    text = _read_text(file)
    name = str(file) if file is not None else "standard input"
    if suffix in TABLE_SUFFIXES:
        try:
            frame = pd.read_csv(
                io.StringIO(text), sep=TABLE_SUFFIXES[suffix], dtype=str, keep_default_na=False
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise DataError(f"{name}: not a readable {suffix[1:].upper()} file ({err})") from None
        if text_column not in frame.columns:
            raise DataError(
                f"{name}: no column {text_column!r} (columns: {', '.join(frame.columns)}); "
                "choose one with --text-column"
            )
        return frame[text_column].tolist()
    if suffix in JSONL_SUFFIXES:
        return _jsonl_texts(text, name, text_column)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline at the end of the last line
    return [line.rstrip("\r") for line in lines]


def _jsonl_texts(text: str, name: str, text_column: str) -> list[str]:
    texts = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise DataError(f"{name}:{number}: not a JSON object") from None
        if not isinstance(row, dict) or text_column not in row:
            raise DataError(
                f"{name}:{number}: no {text_column!r} field; choose one with --text-column"
            )
        texts.append(str(row[text_column]))
    return texts
