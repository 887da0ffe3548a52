"""Read labelled corpora (CSV, TSV, JSON Lines, folder-per-label) and stream plain-text lines.

Every user-facing problem raises :class:`dtl_cli.errors.DataError` with one line that names
the file (and line where known) and says how to fix it.
"""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from dtl_cli.errors import DataError, decode_utf8_line, warn

FORMATS = ("auto", "csv", "tsv", "jsonl", "dir")
_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}


def read_labelled(
    path: str | Path,
    *,
    fmt: str = "auto",
    text_column: str = "text",
    label_column: str = "label",
) -> pd.DataFrame:
    """Read a labelled corpus into a DataFrame with exactly the str columns ``text``, ``label``.

    ``fmt`` is one of "csv", "tsv", "jsonl" (one JSON object per line), "dir" (one sub-folder
    per label holding one ``.txt`` document per file) or "auto" (chosen from the suffix, or
    "dir" for a folder). Texts and labels are stripped of surrounding whitespace; the index
    runs 0..n-1. ``text_column``/``label_column`` are ignored for "dir".
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; check the path")
    fmt = resolve_format(path, fmt)
    if fmt == "dir":
        frame, where = _read_dir(path)
    elif fmt == "jsonl":
        frame, where = _read_jsonl(path, text_column, label_column)
    else:
        frame, where = _read_table(path, fmt, text_column, label_column)
    return _check_rows(path, frame, where)


def iter_lines(path: str | Path) -> Iterator[str]:
    """Stream a UTF-8 text file (``.gz`` allowed) one document per line.

    Lines are stripped and blank lines skipped; the file is never loaded whole. A missing
    file raises DataError at once; bad bytes raise DataError naming the line when reached.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path")
    return _stream_lines(path)


def _stream_lines(path: Path) -> Iterator[str]:
    try:
        with open_binary(path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                text = decode_utf8_line(path, raw, line_no)
                if line_no == 1:
                    text = text.lstrip("\ufeff")
                text = text.strip()
                if text:
                    yield text
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read ({err}); check the file is not truncated") from err


def open_binary(path: Path):
    """``path`` opened for reading bytes, through gzip when it ends in ``.gz``."""
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def data_suffix(path: Path) -> str:
    """The suffix that says the format, past a compression suffix: a.csv.gz -> ".csv"."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _first_bad_utf8_line(path: Path) -> DataError:
    """Build the DataError for the first non-UTF-8 line of ``path``."""
    with open_binary(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                decode_utf8_line(path, raw, line_no)
            except DataError as err:
                return err
    return DataError(f"{path}: not UTF-8; re-save the file as UTF-8")


def resolve_format(path: Path, fmt: str) -> str:
    """The format to read `path` with: `fmt`, or for "auto" the suffix's (a folder: dir)."""
    if fmt not in FORMATS:
        raise DataError(f"{path}: unknown format '{fmt}'; use one of {', '.join(FORMATS)}")
    if fmt != "auto":
        if fmt == "dir" and not path.is_dir():
            raise DataError(f"{path}: format 'dir' needs a folder with one sub-folder per label")
        if fmt != "dir" and path.is_dir():
            raise DataError(f"{path}: is a folder but format is '{fmt}'; use format 'dir'")
        return fmt
    if path.is_dir():
        return "dir"
    found = _SUFFIX_FORMATS.get(data_suffix(path))
    if found is None:
        raise DataError(
            f"{path}: cannot tell the format from suffix '{''.join(path.suffixes)}' (known: "
            f"{', '.join(_SUFFIX_FORMATS)}, each also .gz); set the format to one of csv, tsv, "
            "jsonl, dir"
        )
    return found


def peek_columns(path: Path, fmt: str) -> list[str] | None:
    """The header of a CSV/TSV file (None for other formats), read without the rows."""
    if fmt not in ("csv", "tsv"):
        return None
    options: dict = {"sep": ","} if fmt == "csv" else {"sep": "\t", "quoting": csv.QUOTE_NONE}
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig", **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file; add a header row and data rows") from None
    except UnicodeDecodeError:
        raise _first_bad_utf8_line(path) from None
    except (EOFError, zlib.error, pd.errors.ParserError, ValueError, OSError) as err:
        raise DataError(f"{path}: cannot read its header ({' '.join(str(err).split())})") from None
    columns = [str(c) for c in header.columns]
    with open_binary(path) as handle:  # pandas renames a repeated name (text -> text.1)
        first = handle.readline().decode("utf-8", errors="replace").lstrip("\ufeff")
    names = next(csv.reader([first], delimiter=options["sep"]), [])
    twice = next((n.strip() for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise DataError(f"{path}:1: column '{twice}' appears twice in the header; rename one")
    return columns


def _read_table(
    path: Path, fmt: str, text_column: str, label_column: str
) -> tuple[pd.DataFrame, list[str]]:
    """Read CSV/TSV; returns the frame and a 'line N' location for every row."""
    options: dict = {"sep": ","} if fmt == "csv" else {"sep": "\t", "quoting": csv.QUOTE_NONE}
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", **options)
    except UnicodeDecodeError:
        raise _first_bad_utf8_line(path) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataError(f"{path}: cannot read ({err}); check the file is not truncated") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file; add a header row and data rows") from None
    except (pd.errors.ParserError, ValueError, OSError) as err:
        detail = " ".join(str(err).split())
        raise DataError(
            f"{path}: malformed {fmt.upper()} ({detail}); fix that row or quote its fields"
        ) from None
    columns = [str(c) for c in table.columns]
    tabbed = fmt == "csv" and any("\t" in c for c in columns)
    for wanted, key in ((text_column, "text_column"), (label_column, "label_column")):
        if wanted not in columns:
            fix = "the header has tabs: set format=tsv" if tabbed else f"set {key}"
            raise DataError(f"{path}: no column '{wanted}' (columns: {', '.join(columns)}); {fix}")
    if tabbed:
        warn(f"{path}: read as CSV but its header has tabs; if it is TSV, set format=tsv")
    frame = pd.DataFrame(
        {"text": table[text_column].astype(str), "label": table[label_column].astype(str)}
    )
    where = [f"line {i + 2}" for i in range(len(frame))]
    return frame, where


def _read_jsonl(path: Path, text_column: str, label_column: str) -> tuple[pd.DataFrame, list[str]]:
    try:
        with open_binary(path) as handle:
            texts, labels, where = _parse_jsonl(path, handle, text_column, label_column)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataError(f"{path}: cannot read ({err}); check the file is not truncated") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror}); check permissions") from None
    return pd.DataFrame({"text": texts, "label": labels}, dtype=str), where


def _parse_jsonl(
    path: Path, handle, text_column: str, label_column: str
) -> tuple[list[str], list[str], list[str]]:
    """Parse JSON Lines into texts, labels and a 'line N' location per record."""
    texts: list[str] = []
    labels: list[str] = []
    where: list[str] = []
    for line_no, raw in enumerate(handle, start=1):
        line = decode_utf8_line(path, raw, line_no)
        if line_no == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path}:{line_no}:{err.colno}: invalid JSON ({err.msg}); "
                "write one JSON object per line"
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}; "
                "write one JSON object per line (JSON Lines)"
            )
        for wanted, key in ((text_column, "text_column"), (label_column, "label_column")):
            if wanted not in record:
                raise DataError(
                    f"{path}:{line_no}: no field '{wanted}' "
                    f"(fields: {', '.join(map(str, record))}); set {key}"
                )
        texts.append(_as_text(record[text_column]))
        labels.append(_as_text(record[label_column]))
        where.append(f"line {line_no}")
    return texts, labels, where


def _as_text(value: object) -> str:
    return "" if value is None else str(value)


def _read_dir(path: Path) -> tuple[pd.DataFrame, list[str]]:
    label_dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not label_dirs:
        raise DataError(
            f"{path}: no label sub-folders; put each label's .txt files in a folder named "
            "after the label"
        )
    texts: list[str] = []
    labels: list[str] = []
    where: list[str] = []
    for label_dir in label_dirs:
        for file in sorted(label_dir.glob("*.txt")):
            texts.append(_read_document(file))
            labels.append(label_dir.name)
            where.append(f"file {file}")
    others = [f for d in label_dirs for f in d.iterdir() if f.is_file()] if not texts else []
    if others:
        raise DataError(
            f"{path}: its label folders hold no .txt file ({len(others)} other files, e.g. "
            f"{others[0].name}); format dir reads one .txt document per file"
        )
    return pd.DataFrame({"text": texts, "label": labels}, dtype=str), where


def _read_document(file: Path) -> str:
    try:
        return file.read_bytes().decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise _first_bad_utf8_line(file) from None
    except OSError as err:
        raise DataError(f"{file}: cannot read ({err.strerror}); check permissions") from None


def _check_rows(path: Path, frame: pd.DataFrame, where: list[str]) -> pd.DataFrame:
    """Return ``frame`` with stripped fields; reject empty corpora and rows with empty fields."""
    frame = pd.DataFrame(
        {"text": frame["text"].str.strip().tolist(), "label": frame["label"].str.strip().tolist()},
        dtype=str,
    )
    if len(frame) == 0:
        raise DataError(f"{path}: no rows; the corpus is empty, add labelled examples")
    empty_text = (frame["text"] == "").to_numpy()
    if empty_text.all():
        raise DataError(f"{path}: all {len(frame)} texts are blank; check the text column")
    empty_label = (frame["label"] == "").to_numpy()
    bad = empty_text | empty_label
    if bad.any():
        first = int(bad.argmax())
        field = "text" if empty_text[first] else "label"
        count = int(bad.sum())
        raise DataError(
            f"{path}: {where[first]} has an empty {field} ({count} row(s) with an empty text "
            "or label); fill in or remove those rows"
        )
    return frame
