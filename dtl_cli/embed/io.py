"""Read and write word-vector files: word2vec/fastText text and binary, gensim, and .npy copies.

All loaders return ``(words, vectors)``: a list of V distinct words and a float32 array
[V, dim] whose row i is the vector of ``words[i]``, in file (usually frequency) order.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from dtl_cli.errors import DataError, decode_utf8_line, warn

_TEXT_SUFFIXES = (".vec", ".txt")
_GENSIM_SUFFIXES = (".kv", ".model")


def load_vectors(
    path: str | Path, *, max_vocab: int | None = None, lowercase: bool = False
) -> tuple[list[str], np.ndarray]:
    """Load word vectors; returns ``(words, vectors float32 [V, dim])``.

    Formats by suffix: ``.vec``/``.txt`` (optionally ``.gz``) word2vec/fastText text with a
    "count dim" header; ``.bin`` word2vec binary; ``.kv``/``.model`` gensim files (these are
    pickles: only load files you trust). ``max_vocab`` keeps the first that many words.
    ``lowercase`` lower-cases words and keeps the first (most frequent) vector of each.
    Later duplicates of a word are skipped. (For ``.bin`` the limit applies before
    lower-casing, so fewer than ``max_vocab`` words may come back.)
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path to the vectors")
    if max_vocab is not None and max_vocab < 1:
        raise ValueError(f"max_vocab must be at least 1, got {max_vocab}")
    name = path.name.lower()
    bare = name[:-3] if name.endswith(".gz") else name
    if bare.endswith(_TEXT_SUFFIXES):
        return _load_text(path, max_vocab, lowercase)
    if name.endswith(".bin"):
        words, vectors = _load_binary(path, max_vocab)
    elif name.endswith(_GENSIM_SUFFIXES):
        words, vectors = _load_gensim(path)
    else:
        raise DataError(
            f"{path}: unknown vector format '{path.suffix}'; use .vec/.txt (text, optionally "
            ".gz), .bin (word2vec binary) or .kv/.model (gensim)"
        )
    _check_finite(path, vectors, lines=None)
    return _dedupe(words, vectors, max_vocab, lowercase)


def write_vec(path: str | Path, words: list[str], vectors: np.ndarray) -> None:
    """Write word2vec text format ("count dim" header, then "word v1 ... vdim" per line).

    A ``.gz`` suffix writes gzip. Values use 9 significant digits, which round-trips float32.
    """
    path = Path(path)
    vectors = _check_pair(words, vectors)
    for word in words:
        if not word or any(ch.isspace() for ch in word):
            raise ValueError(f"cannot write word {word!r} to a .vec file: empty or has spaces")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as handle:
        handle.write(f"{vectors.shape[0]} {vectors.shape[1]}\n")
        for word, row in zip(words, vectors, strict=True):
            handle.write(word + " " + " ".join(f"{x:.9g}" for x in row.tolist()) + "\n")


def save_vectors(path_without_suffix: str | Path, words: list[str], vectors: np.ndarray) -> None:
    """Save a fast binary copy: ``<p>.npy`` (float32 [V, dim]) and ``<p>.words.txt`` (UTF-8).

    Each file is written to a temporary name and renamed, so readers never see half a file.
    """
    prefix = str(path_without_suffix)
    vectors = _check_pair(words, vectors)
    for word in words:
        if "\n" in word or "\r" in word:
            raise ValueError(f"cannot save word {word!r}: it contains a line break")
    words_path = prefix + ".words.txt"
    array_path = prefix + ".npy"
    with open(words_path + ".tmp", "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(word + "\n" for word in words)
    with open(array_path + ".tmp", "wb") as handle:
        np.save(handle, vectors, allow_pickle=False)
    os.replace(words_path + ".tmp", words_path)
    os.replace(array_path + ".tmp", array_path)


def load_saved_vectors(path_without_suffix: str | Path) -> tuple[list[str], np.ndarray]:
    """Load a copy written by :func:`save_vectors`: ``(words, vectors float32 [V, dim])``."""
    prefix = str(path_without_suffix)
    words_path = Path(prefix + ".words.txt")
    array_path = Path(prefix + ".npy")
    for needed in (words_path, array_path):
        if not needed.is_file():
            raise DataError(f"{needed}: no such file; re-create the saved vectors")
    try:
        words = words_path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError:
        raise DataError(f"{words_path}: not UTF-8; re-create the saved vectors") from None
    if words and words[-1] == "":
        words.pop()
    try:
        vectors = np.load(array_path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataError(f"{array_path}: unreadable ({err}); re-create the saved vectors") from None
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise DataError(
            f"{array_path}: shape {vectors.shape} does not match {len(words)} words in "
            f"{words_path.name}; re-create the saved vectors"
        )
    return words, vectors.astype(np.float32, copy=False)


def _check_pair(words: list[str], vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"need vectors of shape [{len(words)}, dim], got {vectors.shape}")
    return vectors


def _load_text(path: Path, max_vocab: int | None, lowercase: bool) -> tuple[list[str], np.ndarray]:
    """Stream-parse word2vec text format, stopping after ``max_vocab`` kept words."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            return _parse_text(path, handle, max_vocab, lowercase)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read ({err}); check the file is not truncated") from None


def _parse_text(path, handle, max_vocab, lowercase) -> tuple[list[str], np.ndarray]:
    count, dim = _parse_header(path, handle.readline())
    capacity = count if max_vocab is None else min(count, max_vocab)
    rows = _TextRows(path, count, dim, capacity, lowercase, stop_when_full=max_vocab is not None)
    line_no = 2
    while not rows.full:  # blocks of whole lines; stop early once max_vocab words are kept
        block = handle.read(_BLOCK_BYTES)
        if not block:
            break
        if not block.endswith(b"\n"):
            block += handle.readline()
        line_no = rows.add_block(block, line_no)
    words = rows.words
    if max_vocab is None and rows.n_rows != count:
        raise DataError(
            f"{path}:1: header says {count} words but the file has {rows.n_rows} rows; "
            f"set the header to '{rows.n_rows} {dim}'"
        )
    n_rows = rows.n_rows + (rows.rows_after + _count_rows(handle) if rows.full else 0)
    if n_rows != count:  # only the first max_vocab rows are used: say it, do not fail
        warn(
            f"{path}:1: header says {count} words but the file has {n_rows} rows; the first "
            f"{len(words)} are used, check the file is complete (header '{n_rows} {dim}')"
        )
    if not words:
        raise DataError(f"{path}: no vectors in the file; check it is the right file")
    vectors = rows.vectors
    vectors = vectors[: len(words)] if len(words) == capacity else vectors[: len(words)].copy()
    _check_finite(path, vectors, rows.lines)
    return words, vectors


def _count_rows(handle) -> int:
    """Non-empty lines left in `handle` (no parsing)."""
    return sum(1 for line in handle if not line.isspace())


def vector_header(path: str | Path) -> tuple[int, int]:
    """``(count, dim)`` a vector file declares, read without loading it: the header line of
    text and binary word2vec files, the attributes of a gensim file."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(_GENSIM_SUFFIXES):
        words, vectors = _load_gensim(path)
        return len(words), int(vectors.shape[1])
    opener = gzip.open if name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            return _parse_header(path, handle.readline())
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read ({err}); check the file is not truncated") from None


# Text per block. A block is parsed fast (numbers of all its lines in one call); a block with
# anything unusual in it is parsed again line by line, which finds and names the bad line.
_BLOCK_BYTES = 8 << 20
_NUMBER_BYTES = b"0123456789.+-eE \n"


class _TextRows:
    """The rows kept so far from a word2vec text file: words, vectors and their line numbers."""

    def __init__(self, path, count, dim, capacity, lowercase, stop_when_full):
        self.path, self.count, self.dim, self.lowercase = path, count, dim, lowercase
        self.capacity, self.stop_when_full = capacity, stop_when_full
        self.vectors = np.empty((capacity, dim), dtype=np.float32)
        self.words: list[str] = []
        self.lines: list[int] = []
        self.seen: set[str] = set()
        self.n_rows = 0  # non-empty lines after the header, duplicates included
        self.rows_after = 0  # non-empty lines after the last one read, once full

    @property
    def full(self) -> bool:
        return self.stop_when_full and len(self.words) == self.capacity

    def add_block(self, block: bytes, first_line: int) -> int:
        """Add the lines of `block` (whole lines); return the number of the line after it."""
        raws = block.split(b"\n")
        if raws[-1] == b"":
            raws.pop()  # what follows the last line break is not a line
        before = self.n_rows
        if not self._add_fast(block, raws, first_line):
            self._add_exact(raws, first_line)
        if self.full:  # rows of this block after the last one kept: counted, not parsed
            self.rows_after += sum(1 for raw in raws if raw.strip()) - (self.n_rows - before)
        return first_line + len(raws)

    def _add_fast(self, block: bytes, raws: list[bytes], first_line: int) -> bool:
        """Keep the block's rows with one numeric parse, or keep nothing and return False if
        any line is not plainly well-formed (the exact path then decides)."""
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return False
        words, lines, numbers, seen = [], [], [], set()
        n_rows = self.n_rows
        room = self.capacity - len(self.words) if self.stop_when_full else -1
        for line_no, raw in enumerate(raws, start=first_line):
            if len(words) == room:
                break
            line = raw.rstrip(b"\r\n").rstrip(b" ")
            if not line:
                continue
            n_rows += 1
            word, _, rest = line.partition(b" ")
            if n_rows > self.count or rest[:1] in (b"", b" "):
                return False
            if rest.count(b" ") != self.dim - 1:
                return False
            word = word.decode("utf-8")
            if self.lowercase:
                word = word.lower()
            if word in self.seen or word in seen:
                continue
            seen.add(word)
            words.append(word)
            lines.append(line_no)
            numbers.append(rest)
        if numbers:
            values = _parse_numbers(b"\n".join(numbers), len(numbers), self.dim)
            if values is None:
                return False
            start = len(self.words)
            self.vectors[start : start + len(values)] = values
        self.n_rows = n_rows
        self.words += words
        self.lines += lines
        self.seen |= seen
        return True

    def _add_exact(self, raws: list[bytes], first_line: int) -> None:
        """Line by line; raises a DataError naming the first bad line."""
        path, dim = self.path, self.dim
        for line_no, raw in enumerate(raws, start=first_line):
            if self.full:
                return
            line = decode_utf8_line(path, raw, line_no).rstrip("\r\n").rstrip(" ")
            if not line:
                continue
            self.n_rows += 1
            if self.n_rows > self.count:
                raise DataError(
                    f"{path}:{line_no}: more rows than the header's count {self.count}; fix line 1"
                )
            parts = line.split(" ")
            if len(parts) != dim + 1:
                raise DataError(
                    f"{path}:{line_no}: {len(parts) - 1} values but the header says dim={dim}; "
                    "fix or remove that line"
                )
            word = parts[0].lower() if self.lowercase else parts[0]
            if word in self.seen:
                continue
            try:
                self.vectors[len(self.words)] = parts[1:]
            except ValueError:
                bad = next(p for p in parts[1:] if not _is_float(p))
                raise DataError(
                    f"{path}:{line_no}: value {bad!r} is not a number; fix or remove that line"
                ) from None
            self.seen.add(word)
            self.words.append(word)
            self.lines.append(line_no)


def _parse_numbers(text: bytes, n_lines: int, dim: int) -> np.ndarray | None:
    """`n_lines` lines of `dim` single-space-separated numbers -> float32 [n_lines, dim].

    Uses pandas' C reader (about 4x faster than numpy's text parsers here; it rounds like
    Python's float). None if a field is not a plain finite decimal number: the caller then
    parses line by line, so the rules stay those of ``float()`` and the errors name a line.
    """
    if text.translate(None, _NUMBER_BYTES) or b"  " in text:
        return None
    try:
        frame = pd.read_csv(
            io.BytesIO(text),
            sep=" ",
            header=None,
            dtype=np.float64,
            engine="c",
            na_filter=False,
            quoting=csv.QUOTE_NONE,
        )
    except ValueError:
        return None
    values = frame.to_numpy(dtype=np.float32)
    if values.shape != (n_lines, dim) or not np.isfinite(values).all():
        return None
    return values


def _parse_header(path: Path, raw: bytes) -> tuple[int, int]:
    try:
        header = raw.decode("utf-8").strip().lstrip("\ufeff")
    except UnicodeDecodeError:  # e.g. a binary file that is not word2vec at all
        raise DataError(
            f"{path}:1: no '<count> <dim>' header line (its first line is not even UTF-8 text); "
            "give word2vec vectors (.vec, .txt, .bin, each may be .gz) or a gensim .kv file"
        ) from None
    fields = header.split()
    if len(fields) == 2 and all(f.isdigit() for f in fields) and int(fields[1]) > 0:
        return int(fields[0]), int(fields[1])
    shown = header if len(header) <= 40 else header[:40] + "..."
    raise DataError(
        f"{path}:1: bad header {shown!r}; the first line must be '<count> <dim>' "
        "(GloVe files have none: add it)"
    )


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_finite(path: Path, vectors: np.ndarray, lines: list[int] | None) -> None:
    finite = np.isfinite(vectors).all(axis=1)
    if finite.all():
        return
    row = int(np.argmin(finite))
    where = f"{path}:{lines[row]}" if lines is not None else f"{path}: row {row + 1}"
    raise DataError(f"{where}: NaN or infinite value; fix or remove that vector")


def _load_binary(path: Path, max_vocab: int | None) -> tuple[list[str], np.ndarray]:
    from gensim.models import KeyedVectors

    try:
        kv = KeyedVectors.load_word2vec_format(str(path), binary=True, limit=max_vocab)
    except UnicodeDecodeError:
        raise DataError(f"{path}: a word is not UTF-8; re-save the vectors as UTF-8") from None
    except (ValueError, EOFError, OSError, IndexError) as err:
        detail = " ".join(str(err).split())
        raise DataError(
            f"{path}: not a readable word2vec binary file ({detail}); check the format"
        ) from None
    return list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32)


def _load_gensim(path: Path) -> tuple[list[str], np.ndarray]:
    from gensim.models import KeyedVectors
    from gensim.utils import SaveLoad

    try:
        loaded = SaveLoad.load(str(path))
    except Exception as err:  # unpickling can fail in many ways
        detail = " ".join(str(err).split())
        raise DataError(
            f"{path}: not a readable gensim file ({detail}); check the format"
        ) from None
    kv = getattr(loaded, "wv", loaded)
    if not isinstance(kv, KeyedVectors):
        raise DataError(
            f"{path}: holds a {type(loaded).__name__}, not word vectors; save KeyedVectors"
        )
    return list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32)


def _dedupe(
    words: list[str], vectors: np.ndarray, max_vocab: int | None, lowercase: bool
) -> tuple[list[str], np.ndarray]:
    """Keep the first row of each (optionally lower-cased) word, at most ``max_vocab`` rows."""
    keep: list[int] = []
    kept_words: list[str] = []
    seen: set[str] = set()
    for row, word in enumerate(words):
        if max_vocab is not None and len(kept_words) == max_vocab:
            break
        key = word.lower() if lowercase else str(word)
        if key in seen:
            continue
        seen.add(key)
        keep.append(row)
        kept_words.append(key)
    if len(keep) == len(words):
        return kept_words, vectors
    return kept_words, vectors[np.asarray(keep, dtype=np.int64)]
