"""Bilingual lexicon induction (BLI): read MUSE dictionaries, score a mapping by p@k.

A MUSE dictionary has one "source target" pair per line (space or tab separated,
UTF-8); a source word may have several lines, one per gold translation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dtl_cli.align.retrieval import topk, topk_methods
from dtl_cli.errors import DataError, decode_utf8_line
from dtl_cli.text.vocab import first_index


def read_dictionary(path: str | Path) -> list[tuple[str, str]]:
    """Read a MUSE dictionary file into (source, target) pairs, in file order.

    Blank lines are skipped. Raises DataError (naming file and line) for a missing
    file, non-UTF-8 bytes, a line without exactly 2 fields, or an empty dictionary.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"{path}: no such dictionary file; check the path or download the dictionary"
        ) from None
    except OSError as err:
        raise DataError(
            f"{path}: cannot read dictionary file ({err.strerror}); check the path"
        ) from None
    pairs: list[tuple[str, str]] = []
    for line_no, raw_line in enumerate(raw.splitlines(), start=1):
        line = decode_utf8_line(path, raw_line, line_no)
        if line_no == 1:
            line = line.removeprefix("\ufeff")
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(
                f"{path}:{line_no}: expected 2 fields 'source target', found {len(fields)}; "
                "fix or delete the line"
            )
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise DataError(f"{path}: dictionary has no 'source target' pairs; check the file")
    return pairs


def seed_overlap(
    test: Sequence[tuple[str, str]], seed: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The test pairs whose source word the seed dictionary also has (in test order)."""
    seed_words = {source for source, _ in seed}
    return [pair for pair in test if pair[0] in seed_words]


def filter_pairs(
    pairs: Sequence[tuple[str, str]], src_index: dict[str, int], tgt_index: dict[str, int]
) -> tuple[list[tuple[int, int]], int]:
    """Keep pairs whose words are both in the vocabularies, as (src_row, tgt_row) indices.

    Returns the kept index pairs (in input order) and the number of dropped pairs.
    """
    kept = [(src_index[s], tgt_index[t]) for s, t in pairs if s in src_index and t in tgt_index]
    return kept, len(pairs) - len(kept)


def _word_index(words: Sequence[str], vecs: np.ndarray, side: str) -> dict[str, int]:
    if len(words) != len(vecs):
        raise ValueError(f"{side}: {len(words)} words but {len(vecs)} vectors")
    return first_index(words)


def evaluate_bli(
    src_words: Sequence[str],
    mapped_src: np.ndarray,
    tgt_words: Sequence[str],
    tgt_vecs: np.ndarray,
    pairs: Sequence[tuple[str, str]],
    ks: Sequence[int] = (1, 5, 10),
    methods: Sequence[str] = ("nn", "csls"),
    csls_k: int = 10,
    batch_size: int = 4096,
    dict_name: str = "dictionary",
    csls_pool: int | None = None,
) -> dict:
    """Precision at k of translating dictionary source words, MUSE protocol.

    mapped_src [V_s, d] are source vectors already mapped to target space; tgt_vecs
    [V_t, d]. Queries are the unique source words of ``pairs`` that are in the source
    vocabulary; a query is a hit at k if ANY of its gold translations is among its top k
    targets (gold words missing from the target vocabulary are unreachable). CSLS
    uses the whole mapped source vocabulary for r_S (exact), or with ``csls_pool`` = N only
    its N first (most frequent) rows: an approximation that costs V_t x N products
    instead of V_t x V_s.

    Returns {"coverage": covered share of unique source words in [0, 1],
    "n_queries": number of covered queries, "n_pairs": len(pairs),
    method: {"p@k": precision in [0, 1] for k in ks} for method in methods}.
    Raises DataError if no source word of ``pairs`` is in the source vocabulary.
    """
    src_index = _word_index(src_words, mapped_src, "source")
    tgt_index = _word_index(tgt_words, tgt_vecs, "target")
    gold = _gold_rows(pairs, tgt_index)
    queries = [s for s in gold if s in src_index]
    if not queries:
        n_neither = sum(1 for s, t in pairs if s not in src_index and t not in tgt_index)
        raise DataError(
            f"{dict_name}: none of the {len(pairs)} dictionary pairs has its source word in "
            f"the source vocabulary ({n_neither} pairs are in neither vocabulary); check the "
            "language order (source/target swapped?) and lower-casing"
        )
    query_vecs = np.asarray(mapped_src, dtype=np.float32)[[src_index[s] for s in queries]]
    max_k = max(ks)
    result: dict = {
        "coverage": len(queries) / len(gold),
        "n_queries": len(queries),
        "n_pairs": len(pairs),
    }
    ranked = topk_methods(
        query_vecs,
        tgt_vecs,
        max_k,
        methods=tuple(methods),
        csls_k=csls_k,
        batch_size=batch_size,
        query_pool=_pool(mapped_src, csls_pool),
    )
    for method in methods:
        first_hit = _first_hits(ranked[method][0], [gold[s] for s in queries], max_k)
        result[method] = {f"p@{k}": float(np.mean(first_hit < k)) for k in ks}
    return result


def _gold_rows(pairs: Sequence[tuple[str, str]], tgt_index: dict[str, int]) -> dict[str, set]:
    """Each source word of ``pairs`` (in first-seen order) -> its gold target rows (those in
    the target vocabulary; possibly none)."""
    gold: dict[str, set[int]] = {}
    for s, t in pairs:
        targets = gold.setdefault(s, set())
        if t in tgt_index:
            targets.add(tgt_index[t])
    return gold


def _first_hits(best: np.ndarray, gold: Sequence[set], max_k: int) -> np.ndarray:
    """Rank (0-based) of each query's first gold target in its top list best [n, max_k],
    else max_k: int64 [n]."""
    first_hit = np.full(len(gold), max_k, dtype=np.int64)
    for q, targets in enumerate(gold):
        for rank, target in enumerate(best[q]):
            if int(target) in targets:
                first_hit[q] = rank
                break
    return first_hit


def _pool(mapped_src: np.ndarray, csls_pool: int | None) -> np.ndarray:
    if csls_pool is None:
        return mapped_src
    if csls_pool < 1:
        raise ValueError(f"csls_pool must be >= 1 or None, got {csls_pool}")
    return mapped_src[:csls_pool]


def induce_dictionary(
    src_words: Sequence[str],
    mapped_src: np.ndarray,
    tgt_words: Sequence[str],
    tgt_vecs: np.ndarray,
    method: str = "csls",
    n_words: int | None = None,
    csls_pool: int | None = None,
) -> list[tuple[str, str, float]]:
    """Best target word for each of the first ``n_words`` source words (all if None).

    mapped_src [V_s, d] is in target space, tgt_vecs [V_t, d]. Returns
    (source, target, score) triples; score is cosine ("nn") or the CSLS score
    (``csls_pool`` as in ``evaluate_bli``).
    """
    _word_index(src_words, mapped_src, "source")
    _word_index(tgt_words, tgt_vecs, "target")
    n = len(src_words) if n_words is None else min(n_words, len(src_words))
    mapped_src = np.asarray(mapped_src, dtype=np.float32)
    pool = _pool(mapped_src, csls_pool)
    best, scores = topk(mapped_src[:n], tgt_vecs, 1, method=method, query_pool=pool)
    return [(src_words[i], tgt_words[int(best[i, 0])], float(scores[i, 0])) for i in range(n)]
