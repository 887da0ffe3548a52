"""Self-learning orthogonal mapping from a small seed dictionary (Artetxe et al., 2018).

Each iteration fits orthogonal Procrustes on the current dictionary, then induces a new
dictionary by CSLS (Conneau et al., 2018) among the ``cutoff`` most frequent words of both
spaces, in both directions (source -> target and target -> source, union). Stochastic
dictionary induction keeps each similarity entry with probability p (others are ignored);
p starts low so early dictionaries are varied, and doubles whenever the objective (mean CSLS
score of the induced pairs) has not improved by more than ``min_improvement`` for
``patience`` iterations. The loop stops when p = 1 and the objective no longer improves.

Stochastic induction is drawn as a rank per row (see ``draw_ranks``), which is the same
distribution as dropping entries, without a random number per entry.

Memory: similarities are computed one tile at a time per worker (see
``retrieval.tiled_top``), so the peak is a few tiles plus each row's candidate list; no
cutoff x cutoff matrix is ever held whole.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

import numpy as np

from dtl_cli.align.mappings import apply_map, fit_procrustes
from dtl_cli.align.normalize import unit_rows
from dtl_cli.align.retrieval import tiled_top
from dtl_cli.text.vocab import first_index

_NUMERAL = re.compile(r"[0-9]+(?:[.,][0-9]+)*")


def identical_pairs(
    src_words: Sequence[str], tgt_words: Sequence[str], numerals_only: bool = False
) -> np.ndarray:
    """Index pairs [n, 2] (source row, target row) of strings found in both vocabularies.

    With ``numerals_only`` only strings of digits (``2018``, ``3.5``) count. Pairs come in
    source-vocabulary order; the first occurrence of a repeated word is used.
    """
    tgt_index = first_index(tgt_words)
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


def draw_ranks(n_rows: int, n_cols: int, keep_prob: float, rng) -> np.ndarray:
    """Rank (0 = best) of the entry each row picks under stochastic induction, int64 [n_rows].

    Keeping each of a row's n_cols entries with probability p and taking the best kept one
    picks the entry of rank r with probability (1 - p)^r p: a geometric draw. A row that
    keeps nothing (r >= n_cols) falls back to its best entry, rank 0.
    """
    if keep_prob >= 1:
        return np.zeros(n_rows, dtype=np.int64)
    ranks = rng.geometric(keep_prob, n_rows).astype(np.int64) - 1
    ranks[ranks >= n_cols] = 0
    return ranks


# Candidates a row keeps beyond the depth of its pick, so that the bound in
# ``pick_by_rank`` can certify the pick although r_b moved since the candidates' hint.
CANDIDATE_MARGIN = 10


def _candidate_depth(ranks: np.ndarray, n_cols: int) -> np.ndarray:
    """Candidates to keep per row, int64 [n_rows]: its pick's depth plus a margin."""
    return np.minimum(ranks + 1 + CANDIDATE_MARGIN, n_cols)


def pick_by_rank(
    A: np.ndarray,
    B: np.ndarray,
    cand: np.ndarray,
    cand_scores: np.ndarray,
    r_a: np.ndarray,
    r_b: np.ndarray,
    ranks: np.ndarray,
    hint: np.ndarray | None = None,
    batch_size: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """For each row i of A [n_a, d], the column of B [n_b, d] whose CSLS score
    2 cos - r_a[i] - r_b[j] has rank ``ranks[i]`` (0 = best) in the row, and that score.

    ``cand`` [n_a, m] are each row's best columns by 2 cos - hint[j] (``hint`` [n_b], an
    estimate of r_b such as the last iteration's; None means 0), best first, and
    ``cand_scores`` [n_a, m] those scores; a row may have fewer than m, padded with score
    -inf. A column j outside a row's c candidates scores at most its c-th score there, so
    its CSLS is at most that + excess[j] - r_a, where excess = hint - r_b. A pick the
    candidates rank r-th is exact when no column's bound reaches it; otherwise the few
    columns of greatest excess are scored for that row (see ``_check_excess_columns``),
    and only rows those cannot decide are scored against all of B. The closer hint is to
    r_b, the fewer rows need either. Returns columns int64 [n_a] and scores float32 [n_a].
    """
    n_a, n_b = len(A), len(B)
    hint = np.zeros(n_b, dtype=np.float32) if hint is None else hint
    rows = np.arange(n_a)
    have = np.isfinite(cand_scores).sum(axis=1)  # candidates per row
    excess = (hint - r_b).astype(np.float32)
    csls = cand_scores + excess[cand] - r_a[:, None]
    order = np.argsort(-csls, axis=1, kind="stable")  # padding (-inf) last
    at = order[rows, np.minimum(ranks, have - 1)]
    picked = cand[rows, at]
    score = csls[rows, at]
    # A column outside the candidates can reach the pick if its excess is >= slack.
    slack = score - (cand_scores[rows, have - 1] - r_a)
    short = np.flatnonzero((have < n_b) & (ranks >= have))  # fewer candidates than rank
    unsure = np.flatnonzero((have < n_b) & (ranks < have) & (slack <= excess.max()))
    undecided = np.sort(
        np.concatenate(
            [short, _check_excess_columns(A, B, cand, have, r_a, r_b, excess, score, slack, unsure)]
        )
    )
    _exact_picks(A, B, undecided, ranks, r_a, r_b, picked, score, batch_size)
    return picked.astype(np.int64), score.astype(np.float32)


# Rows whose pick only columns of high excess could overturn score those columns directly
# when there are at most n_b / _EXCESS_SHARE of them (a product that much smaller than
# the row's whole one); the others are scored against all columns.
_EXCESS_SHARE = 32
_EXCESS_BATCH = 1024


def _check_excess_columns(A, B, cand, have, r_a, r_b, excess, score, slack, rows) -> np.ndarray:
    """The rows (of ``rows``, those whose candidates cannot certify their pick) that some
    column outside their candidates may beat or tie, int64.

    Only columns with excess >= a row's slack can (see ``pick_by_rank``); there are
    usually few, since the excess of most columns is near 0. Each row's such columns are
    scored exactly; if none reaches the pick's score, the pick stands.
    """
    n_b = len(B)
    by_excess = np.argsort(-excess, kind="stable")
    # need[i]: columns whose excess is >= slack[i] (a prefix of by_excess).
    need = np.searchsorted(-excess[by_excess], -slack[rows], side="right")
    fits = need <= n_b // _EXCESS_SHARE
    undecided = [rows[~fits]]
    by_need = np.argsort(need[fits], kind="stable")  # like needs batched together
    checked, need_sorted = rows[fits][by_need], need[fits][by_need]
    position = np.full(n_b, -1, dtype=np.int64)
    for start in range(0, len(checked), _EXCESS_BATCH):
        batch = checked[start : start + _EXCESS_BATCH]
        m = int(need_sorted[min(start + _EXCESS_BATCH, len(checked)) - 1])
        cols = by_excess[:m]
        csls = 2 * (A[batch] @ B[cols].T) - r_b[cols] - r_a[batch, None]  # [b, m]
        # A column among the row's own candidates is ranked already.
        position[cols] = np.arange(m)
        own = position[cand[batch]]
        hit = (own >= 0) & (np.arange(cand.shape[1]) < have[batch, None])
        csls[np.nonzero(hit)[0], own[hit]] = -np.inf
        position[cols] = -1
        undecided.append(batch[(csls >= score[batch, None]).any(axis=1)])
    return np.concatenate(undecided)


def _exact_picks(A, B, redo, ranks, r_a, r_b, picked, score, batch_size: int) -> None:
    """Set picked[i] / score[i] for the rows i in ``redo`` from all of B: the column of
    CSLS rank ranks[i] (2 cos - r_a[i] - r_b, computed tile by tile)."""
    if not len(redo):
        return
    cols, values = tiled_top(A[redo], B, [(ranks[redo] + 1, r_b)], batch_size)[0]
    at = ranks[redo]
    picked[redo] = cols[np.arange(len(redo)), at]
    score[redo] = values[np.arange(len(redo)), at] - r_a[redo]


def csls_induce(
    S: np.ndarray,
    T: np.ndarray,
    csls_k: int = 10,
    keep_prob: float = 1.0,
    rng: np.random.Generator | None = None,
    batch_size: int = 2048,
    hint: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Induce a dictionary between unit rows S [n_s, d] and T [n_t, d] by CSLS, both ways.

    Forward: each source row picks its best target; backward: each target row picks its
    best source. With ``keep_prob`` < 1 each similarity entry takes part with that
    probability (independently per direction); a row whose entries were all dropped falls
    back to its unmasked best. Returns the union of both directions as index pairs
    int64 [m, 2] (unique, sorted), their CSLS scores float32 [m], and r_S [n_s] (each
    source row's mean cosine to its csls_k nearest targets). ``hint`` [n_s], an estimate of
    r_S (the last iteration's), only makes the backward picks cheaper: the answer is the
    same either way (up to float rounding between near-equal scores).

    Cost: one pass of T x S products, keeping each target's nearest sources (r_T) and its
    best sources by 2 cos - hint (the backward candidates), then one of S x T that ranks
    each source row's targets by CSLS directly (r_T is known by then) and keeps its
    nearest targets (r_S). Forward picks are thus exact; backward ones come from the
    candidates (see ``pick_by_rank``), plus the rows the candidates cannot decide.
    """
    if not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
    if keep_prob < 1 and rng is None:
        raise ValueError("keep_prob < 1 needs a random generator")
    n_s, n_t = len(S), len(T)
    rank_f = draw_ranks(n_s, n_t, keep_prob, rng)
    rank_b = draw_ranks(n_t, n_s, keep_prob, rng)
    hint = np.zeros(n_s, dtype=np.float32) if hint is None else hint
    (_, cos_s), (near_s, part_s) = tiled_top(
        T, S, [(csls_k, None), (_candidate_depth(rank_b, n_s), hint)], batch_size
    )
    r_t = cos_s.mean(axis=1)  # [n_t] mean cos of a target row to its k nearest
    # Forward: the best targets by 2 cos - r_t are the best by CSLS (r_s is per row), so
    # each row's ranks down to its pick decide it exactly.
    (_, cos_t), (fwd_cols, fwd_part) = tiled_top(
        S, T, [(csls_k, None), (rank_f + 1, r_t)], batch_size
    )
    r_s = cos_t.mean(axis=1)  # [n_s]
    rows = np.arange(n_s)
    fwd, fwd_score = fwd_cols[rows, rank_f], fwd_part[rows, rank_f] - r_s
    bwd, bwd_score = pick_by_rank(T, S, near_s, part_s, r_t, r_s, rank_b, hint, batch_size)
    pairs = np.concatenate(
        [np.stack([np.arange(n_s), fwd], axis=1), np.stack([bwd, np.arange(n_t)], axis=1)]
    )
    scores = np.concatenate([fwd_score, bwd_score])
    _, first = np.unique(pairs[:, 0] * n_t + pairs[:, 1], return_index=True)
    return pairs[first], scores[first], r_s


def split_seed_pairs(
    seed_pairs: np.ndarray, every: int = 5
) -> tuple[np.ndarray, np.ndarray | None]:
    """(pairs to fit on, held-out pairs): every ``every``-th seed source word (in row
    order, i.e. by frequency) with all its pairs is held out; (all, None) when that leaves
    none held out."""
    sources = np.unique(seed_pairs[:, 0])
    held = np.isin(seed_pairs[:, 0], sources[every - 1 :: every])
    if not held.any():
        return seed_pairs, None
    return seed_pairs[~held], seed_pairs[held]


def seed_cosine(
    X: np.ndarray, Y: np.ndarray, seed_pairs: np.ndarray, W: np.ndarray, b: np.ndarray
) -> float:
    """Mean, over the seed dictionary's source words, of the cosine between x -> W x + b and
    the closest of its seed translations (rows of Y); -1 to 1.

    How far a map has drifted from the pairs it started from: self-learning on spaces that
    are far from isomorphic can induce dictionaries that agree ever less with them. A
    similarity rather than a precision, since on such spaces a seed word's nearest
    neighbour is almost never its translation, for any map.
    """
    mapped = unit_rows(apply_map(X[seed_pairs[:, 0]], W, b))
    cosines = np.einsum("ij,ij->i", mapped, unit_rows(Y[seed_pairs[:, 1]]))
    sources, inverse = np.unique(seed_pairs[:, 0], return_inverse=True)
    best = np.full(len(sources), -np.inf)
    np.maximum.at(best, inverse, cosines)
    return float(best.mean())


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
    keep_seed: bool = False,
    drift_guard: bool = False,
    drift_patience: int | None = None,
    log: Callable[[dict], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[dict], np.ndarray]:
    """Learn an orthogonal map plus bias X -> Y by self-learning from ``seed_pairs``.

    X [V_s, d] and Y [V_t, d] have rows in frequency order (most frequent first); only
    the first ``cutoff`` rows of each take part in dictionary induction. ``seed_pairs``
    int [n, 2] are (source row, target row), n >= 1. ``keep_prob`` is the initial p of
    stochastic dictionary induction. Deterministic for a given ``seed``.

    ``keep_seed`` adds the seed pairs to every induced dictionary, so each fit stays
    anchored to them. ``drift_guard`` holds out every 5th seed source word (see
    ``split_seed_pairs``; the loop never fits on them), scores each iteration's map by
    ``seed_cosine`` on them and returns
    the map (and dictionary) of the iteration that scored best (the later on ties),
    instead of the last: on spaces far from isomorphic the loop can drift away from the
    seed pairs. Seeds of fewer than 5 source words leave it off. With ``drift_patience``
    (and the guard on) the loop also stops once that many iterations have passed without
    a new best, since the map returned is then already decided unless the drift reverses;
    the last history entry says so in ``stopped``.

    Returns W [d, d], b [d] (float32, fitted on the final induced dictionary, or with
    ``drift_guard`` on the best iteration's), the history and that dictionary (int64
    [m, 2] row pairs). The history has one dict per iteration with ``iteration``,
    ``objective`` (mean CSLS of the induced pairs), ``pairs`` (dictionary size),
    ``keep_prob``, ``seconds``, and with ``drift_guard`` ``seed_cosine`` (of the map
    fitted on that iteration's dictionary); the last entry then also holds
    ``seed_cosine_start`` (the map fitted on the seed pairs alone) and
    ``kept_iteration`` (the iteration whose map is returned; 0: the seed pairs' own).
    ``log``, if given, is called with each history entry as it is made.
    """
    seed_pairs = np.asarray(seed_pairs, dtype=np.int64).reshape(-1, 2)
    _check_self_learning(X, Y, seed_pairs, cutoff, patience, csls_k, max_iterations)
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float32)
    Y = np.asarray(Y, dtype=np.float32)
    T = unit_rows(Y[:cutoff])
    schedule = _Schedule(min(float(keep_prob), 1.0), patience, min_improvement)
    history: list[dict] = []
    r_s = None  # the last iteration's r_S: close to this one's, so few picks are redone
    pairs, held_out = split_seed_pairs(seed_pairs) if drift_guard else (seed_pairs, None)
    W, b = fit_procrustes(X, Y, pairs)
    guard = _DriftGuard(X, Y, held_out, W, b, pairs) if held_out is not None else None
    for iteration in range(1, max_iterations + 1):
        start = time.perf_counter()
        S = unit_rows(apply_map(X[:cutoff], W, b))
        pairs, scores, r_s = csls_induce(S, T, csls_k, schedule.p, rng, batch_size, hint=r_s)
        pairs = _fit_pairs(pairs, seed_pairs if keep_seed else None, held_out)
        W, b = fit_procrustes(X, Y, pairs)
        objective = float(np.mean(scores, dtype=np.float64))
        entry = {"iteration": iteration, "objective": objective, "pairs": len(pairs)}
        entry.update(keep_prob=schedule.p, seconds=0.0)
        if guard is not None:
            entry["seed_cosine"] = guard.score(iteration, W, b, pairs)
        entry["seconds"] = time.perf_counter() - start
        history.append(entry)
        if log is not None:
            log(entry)
        if schedule.stop(iteration, objective):
            break
        if guard is not None and drift_patience and iteration - guard.iteration >= drift_patience:
            entry["stopped"] = (
                f"no better held-out seed cosine for {drift_patience} iterations "
                f"since iteration {guard.iteration}"
            )
            break
    if guard is not None:
        history[-1]["kept_iteration"] = guard.iteration
        history[-1]["seed_cosine_start"] = guard.start
        if guard.iteration != len(history):
            pairs = guard.pairs
            W, b = fit_procrustes(X, Y, pairs)
    return W, b, history, pairs


def _fit_pairs(induced, seed_pairs, held_out) -> np.ndarray:
    """The pairs the next map is fitted on: the induced ones, plus ``seed_pairs`` (None: not
    added), less those of a held-out seed source word (for scoring only)."""
    if seed_pairs is not None:
        induced = np.unique(np.concatenate([seed_pairs, induced]), axis=0)
    if held_out is not None:
        induced = induced[~np.isin(induced[:, 0], held_out[:, 0])]
    return induced


def _check_self_learning(X, Y, seed_pairs, cutoff, patience, csls_k, max_iterations) -> None:
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


class _Schedule:
    """The keep probability p of stochastic induction and when to stop: p doubles when the
    objective has not improved by more than ``min_improvement`` for ``patience``
    iterations; the loop stops when that happens at p = 1."""

    def __init__(self, p: float, patience: int, min_improvement: float):
        self.p, self.patience, self.min_improvement = p, patience, min_improvement
        self.best = -np.inf
        self.last_improvement = 0

    def stop(self, iteration: int, objective: float) -> bool:
        if objective - self.best > self.min_improvement:
            self.best = objective
            self.last_improvement = iteration
        elif iteration - self.last_improvement >= self.patience:
            if self.p >= 1:
                return True
            self.p = min(1.0, 2 * self.p)
            self.last_improvement = iteration
        return False


class _DriftGuard:
    """The best map so far by held-out seed cosine: its score, iteration and dictionary
    (iteration 0 is the map fitted on the other seed pairs alone)."""

    def __init__(self, X, Y, held_out, W, b, pairs):
        self.X, self.Y, self.held_out = X, Y, held_out
        self.start = seed_cosine(X, Y, held_out, W, b)
        self.best, self.iteration, self.pairs = self.start, 0, pairs

    def score(self, iteration: int, W, b, pairs) -> float:
        """The held-out seed cosine of this iteration's map, kept if best (ties: later)."""
        value = seed_cosine(self.X, self.Y, self.held_out, W, b)
        if value >= self.best:
            self.best, self.iteration, self.pairs = value, iteration, pairs
        return value
