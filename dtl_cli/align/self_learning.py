"""Self-learning orthogonal mapping from a small seed dictionary (Artetxe et al., 2018).

Each iteration fits orthogonal Procrustes on the current dictionary, then induces a new
dictionary by CSLS (Conneau et al., 2018) among the ``cutoff`` most frequent words of both
spaces, in both directions (source -> target and target -> source, union). Stochastic
dictionary induction keeps each similarity entry with probability p (others are ignored);
p starts low so early dictionaries are varied, and doubles whenever the objective (mean CSLS
score of the induced pairs) has not improved by more than ``min_improvement`` for
``patience`` iterations. The loop stops when p = 1 and the objective no longer improves.

Memory: similarities are computed ``batch_size`` rows at a time, so the peak is about
3 x batch_size x cutoff float32 values; no cutoff x cutoff matrix is ever held whole.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

import numpy as np

from dtl_cli.align.mappings import apply_map, fit_procrustes
from dtl_cli.align.retrieval import knn_mean_similarity, unit_rows

_NUMERAL = re.compile(r"[0-9]+(?:[.,][0-9]+)*")


def identical_pairs(
    src_words: Sequence[str], tgt_words: Sequence[str], numerals_only: bool = False
) -> np.ndarray:
    """Index pairs [n, 2] (source row, target row) of strings found in both vocabularies.

    With ``numerals_only`` only strings of digits (``2018``, ``3.5``) count. Pairs come in
    source-vocabulary order; the first occurrence of a repeated word is used.
    """
    tgt_index: dict[str, int] = {}
    for row, word in enumerate(tgt_words):
        tgt_index.setdefault(word, row)
    seen: set[str] = set()
    pairs = []
    for row, word in enumerate(src_words):
        if word in seen or word not in tgt_index:
            continue
        if numerals_only and not _NUMERAL.fullmatch(word):
            continue
        seen.add(word)
        pairs.append((row, tgt_index[word]))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(start + size, n)


def csls_induce(
    S: np.ndarray,
    T: np.ndarray,
    csls_k: int = 10,
    keep_prob: float = 1.0,
    rng: np.random.Generator | None = None,
    batch_size: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """Induce a dictionary between unit rows S [n_s, d] and T [n_t, d] by CSLS, both ways.

    Forward: each source row picks its best target; backward: each target row picks its
    best source. With ``keep_prob`` < 1 each similarity entry takes part with that
    probability (independently per direction); a row whose entries were all dropped falls
    back to its unmasked best. Returns the union of both directions as index pairs
    int64 [m, 2] (unique, sorted) and their CSLS scores float32 [m].
    """
    if not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
    if keep_prob < 1 and rng is None:
        raise ValueError("keep_prob < 1 needs a random generator")
    n_s, n_t = len(S), len(T)
    r_s = knn_mean_similarity(S, T, csls_k, batch_size)  # [n_s] mean cos to k nearest targets
    r_t = knn_mean_similarity(T, S, csls_k, batch_size)  # [n_t]
    fwd = np.zeros(n_s, dtype=np.int64)
    fwd_score = np.zeros(n_s, dtype=np.float32)
    bwd = np.zeros(n_t, dtype=np.int64)
    bwd_score = np.full(n_t, -np.inf, dtype=np.float32)
    rows = np.arange(n_s)
    for start, stop in _batches(n_s, batch_size):
        # CSLS is symmetric: the same [batch, n_t] block serves both directions.
        block = S[start:stop] @ T.T
        block *= 2
        block -= r_s[start:stop, None]
        block -= r_t[None, :]
        picked = _masked_argmax(block, 1, keep_prob, rng)
        fwd[start:stop] = picked
        fwd_score[start:stop] = block[np.arange(stop - start), picked]
        picked_b = _masked_argmax(block, 0, keep_prob, rng)
        score_b = block[picked_b, np.arange(n_t)]
        better = score_b > bwd_score
        bwd[better] = rows[start:stop][picked_b[better]]
        bwd_score[better] = score_b[better]
    pairs = np.concatenate(
        [np.stack([np.arange(n_s), fwd], axis=1), np.stack([bwd, np.arange(n_t)], axis=1)]
    )
    scores = np.concatenate([fwd_score, bwd_score])
    keys, first = np.unique(pairs[:, 0] * n_t + pairs[:, 1], return_index=True)
    return pairs[first], scores[first]


def _masked_argmax(block, axis, keep_prob, rng) -> np.ndarray:
    """Argmax along ``axis`` over the entries kept with probability ``keep_prob``."""
    if keep_prob >= 1:
        return np.argmax(block, axis=axis)
    dropped = rng.random(block.shape, dtype=np.float32) >= keep_prob
    masked = np.where(dropped, -np.inf, block)
    picked = np.argmax(masked, axis=axis)
    empty = np.all(dropped, axis=axis)
    if empty.any():
        picked[empty] = np.argmax(block, axis=axis)[empty]
    return picked


def fit_self_learning(
    X: np.ndarray,
    Y: np.ndarray,
    seed_pairs: np.ndarray,
    *,
    cutoff: int = 20000,
    csls_k: int = 10,
    keep_prob: float = 0.1,
    patience: int = 5,
    min_improvement: float = 1e-6,
    max_iterations: int = 100,
    batch_size: int = 2048,
    seed: int = 0,
    log: Callable[[dict], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Learn an orthogonal map plus bias X -> Y by self-learning from ``seed_pairs``.

    X [V_s, d] and Y [V_t, d] have rows in frequency order (most frequent first); only
    the first ``cutoff`` rows of each take part in dictionary induction. ``seed_pairs``
    int [n, 2] are (source row, target row), n >= 1. ``keep_prob`` is the initial p of
    stochastic dictionary induction. Deterministic for a given ``seed``.

    Returns W [d, d], b [d] (float32, fitted on the final induced dictionary) and the
    history: one dict per iteration with ``iteration``, ``objective`` (mean CSLS of the
    induced pairs), ``pairs`` (dictionary size), ``keep_prob`` and ``seconds``. ``log``,
    if given, is called with each history entry as it is made.
    """
    seed_pairs = np.asarray(seed_pairs, dtype=np.int64).reshape(-1, 2)
    if len(seed_pairs) == 0:
        raise ValueError("self-learning needs at least one seed pair")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"self-learning needs equal dimensions, got source {X.shape[1]} and target {Y.shape[1]}"
        )
    for name, value in (("cutoff", cutoff), ("patience", patience), ("csls_k", csls_k)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be >= 1, got {max_iterations}")
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float32)
    Y = np.asarray(Y, dtype=np.float32)
    T = unit_rows(Y[:cutoff])
    pairs = seed_pairs
    p = min(float(keep_prob), 1.0)
    best = -np.inf
    last_improvement = 0
    history: list[dict] = []
    for iteration in range(1, max_iterations + 1):
        start = time.perf_counter()
        W, b = fit_procrustes(X[pairs[:, 0]], Y[pairs[:, 1]])
        S = unit_rows(apply_map(X[:cutoff], W, b))
        pairs, scores = csls_induce(S, T, csls_k, p, rng, batch_size)
        objective = float(np.mean(scores, dtype=np.float64))
        entry = {
            "iteration": iteration,
            "objective": objective,
            "pairs": len(pairs),
            "keep_prob": p,
            "seconds": time.perf_counter() - start,
        }
        history.append(entry)
        if log is not None:
            log(entry)
        if objective - best > min_improvement:
            best = objective
            last_improvement = iteration
        elif iteration - last_improvement >= patience:
            if p >= 1:
                break
            p = min(1.0, 2 * p)
            last_improvement = iteration
    W, b = fit_procrustes(X[pairs[:, 0]], Y[pairs[:, 1]])
    return W, b, history
