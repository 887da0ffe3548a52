"""One entry point that learns a source -> target map with any method, direction and
normalisation, and hands back the affine map on the vectors it was given.

The stored contract is f(x) = W x + b from the caller's source vectors to the caller's
target vectors (W [d_t, d_s], b [d_t]), plus the reverse map target -> source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dtl_cli.align.mappings import (
    apply_map,
    fit_linear,
    fit_procrustes,
    identity_map,
    invert_map,
)
from dtl_cli.align.multistep import MultiStep, fit_multistep
from dtl_cli.align.normalize import normalize
from dtl_cli.align.self_learning import fit_self_learning

METHODS = ("linear", "procrustes", "self_learning", "none")
DIRECTIONS = ("source_to_target", "target_to_source")
# Rows used to express normalisation steps as an affine map (see learn_map).
_AFFINE_ROWS = 20000


@dataclass
class LearnedMap:
    """W [d_t, d_s], b [d_t]: source -> target; W_reverse [d_s, d_t], b_reverse [d_s]:
    target -> source; history: self-learning iterations (empty for other methods);
    shared: (W [d, d], b [d]) from target coordinates into the space where the languages
    are compared (None: the target space itself; set by the multi-step framework)."""

    W: np.ndarray
    b: np.ndarray
    W_reverse: np.ndarray
    b_reverse: np.ndarray
    history: list[dict] = field(default_factory=list)
    shared: tuple[np.ndarray, np.ndarray] | None = None


def carry_vectors(
    Y: np.ndarray, W: np.ndarray, b: np.ndarray, steps: Sequence[str] = ()
) -> np.ndarray:
    """Target vectors Y [V_t, d_t] carried by the map target -> source (W [d_s, d_t], b [d_s]),
    then given the normalisation ``steps`` (see ``normalize``) in order: float32 [V_t, d_s].

    With the steps the source space was given (``embedding.normalize``), the carried vectors
    have the norms and centre a classifier trained on the source saw, whatever the map did
    to them (a least-squares map shrinks them toward their mean).
    """
    carried = apply_map(Y, W, b)
    return normalize(carried, steps) if steps else carried


def compose(outer: tuple, inner: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of x -> outer(inner(x)) for affine maps given as (W, b)."""
    W_o, b_o = (np.asarray(a, dtype=np.float64) for a in outer)
    W_i, b_i = (np.asarray(a, dtype=np.float64) for a in inner)
    return (W_o @ W_i).astype(np.float32), (W_o @ b_i + b_o).astype(np.float32)


def fit_pairs(
    method: str,
    X: np.ndarray,
    Y: np.ndarray,
    pairs: np.ndarray,
    ridge: float = 0.0,
    ridge_relative: bool = False,
    shrink_toward: str = "zero",
):
    """(W, b) for ``method`` in linear/procrustes/none over index pairs [n, 2] of X -> Y
    (``ridge``, ``ridge_relative``, ``shrink_toward``: see ``fit_linear``'s ``toward``)."""
    if method == "none":
        if X.shape[1] != Y.shape[1]:
            raise ValueError(
                f"mapping 'none' needs equal dimensions, got {X.shape[1]}, {Y.shape[1]}"
            )
        return identity_map(X.shape[1])
    A, B = X[pairs[:, 0]], Y[pairs[:, 1]]
    if method == "linear":
        return fit_linear(A, B, ridge=ridge, relative=ridge_relative, toward=shrink_toward)
    if method == "procrustes":
        return fit_procrustes(A, B)
    raise ValueError(f"unknown mapping method {method!r}; expected one of {METHODS}")


def learn_map(
    method: str,
    X: np.ndarray,
    Y: np.ndarray,
    pairs: np.ndarray,
    *,
    direction: str = "source_to_target",
    steps: Sequence[str] = (),
    ridge: float = 0.0,
    ridge_relative: bool = False,
    shrink_toward: str = "zero",
    self_learning: dict | None = None,
    multistep: MultiStep | None = None,
    log: Callable[[dict], None] | None = None,
) -> LearnedMap:
    """Learn the map between source X [V_s, d_s] and target Y [V_t, d_t].

    ``pairs`` int [n, 2] are (source row, target row) seed pairs. ``steps`` (normalisation,
    see ``normalize``) are applied in order to both spaces before fitting. ``direction``
    "target_to_source" fits g: target -> source and returns its inverse as the forward
    map; for ``linear`` both ways are fitted by least squares, each on its own, whatever
    the direction. ``self_learning`` holds keyword arguments for ``fit_self_learning``.
    ``ridge``, ``ridge_relative`` and ``shrink_toward`` are linear's (see ``fit_linear``).
    ``multistep`` (procrustes and self_learning) replaces the final orthogonal fit by the
    multi-step framework (whitening, re-weighting, de-whitening) on the seed or induced
    dictionary.

    With ``steps``, the map learned between the normalised spaces is re-expressed on the
    given vectors by composing it with affine fits of each side's normalisation (fitted on
    the first 20000 rows). That is exact when the steps are affine on these vectors
    ("center", or "unit" on rows already of unit length) and the least-squares
    approximation otherwise.
    """
    multistep = multistep or MultiStep()
    _check_options(method, direction, multistep)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    steps = list(steps)
    Xn = normalize(X, steps) if steps else np.asarray(X, dtype=np.float32)
    Yn = normalize(Y, steps) if steps else np.asarray(Y, dtype=np.float32)
    if direction == "target_to_source":
        A, B, fit_on = Yn, Xn, pairs[:, ::-1]
    else:
        A, B, fit_on = Xn, Yn, pairs
    history: list[dict] = []
    shared = None  # fitted map's target side -> shared space
    if method == "self_learning":
        W, b, history, fit_on = fit_self_learning(A, B, fit_on, log=log, **(self_learning or {}))
    else:
        W, b = fit_pairs(method, A, B, fit_on, ridge, ridge_relative, shrink_toward)
    if not multistep.is_orthogonal:
        (W, b), shared = fit_multistep(A[fit_on[:, 0]], B[fit_on[:, 1]], multistep)
    # Each way is fitted the way it is used: a least-squares map's inverse is not the
    # least-squares map back (it undoes the fit's shrinkage, and pinv amplifies the weak
    # directions), so linear fits target -> source on its own. Orthogonal and multi-step
    # maps are square and invertible: their inverse is the exact map back.
    other = (
        fit_pairs("linear", B, A, fit_on[:, ::-1], ridge, ridge_relative, shrink_toward)
        if method == "linear"
        else invert_map(W, b)
    )
    if direction == "target_to_source":
        forward, reverse = other, (W, b)
        if shared is not None:  # the fitted map's target is our source: reach it through g
            shared = compose(shared, reverse)
    else:
        forward, reverse = (W, b), other
    if steps:
        forward, reverse, shared = _on_given_vectors(X, Xn, Y, Yn, forward, reverse, shared)
    return LearnedMap(*forward, *reverse, history=history, shared=shared)


def _check_options(method: str, direction: str, multistep: MultiStep) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown mapping method {method!r}; expected one of {METHODS}")
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; expected one of {DIRECTIONS}")
    if method not in ("procrustes", "self_learning") and not multistep.is_orthogonal:
        raise ValueError(f"multi-step mapping needs procrustes or self_learning, not {method}")


def _on_given_vectors(X, Xn, Y, Yn, forward, reverse, shared):
    """(forward, reverse, shared) maps between the normalised spaces Xn, Yn re-expressed on
    the raw X, Y, through affine fits of each side's normalisation."""
    norm_src = _affine_fit(X, Xn)
    norm_tgt = _affine_fit(Y, Yn)
    forward = compose(invert_map(*norm_tgt), compose(forward, norm_src))
    reverse = compose(invert_map(*norm_src), compose(reverse, norm_tgt))
    if shared is not None:
        shared = compose(shared, norm_tgt)
    return forward, reverse, shared


def _affine_fit(raw: np.ndarray, normalised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best affine (W, b) with normalised ≈ W raw + b on the first rows."""
    n = min(len(raw), _AFFINE_ROWS)
    return fit_linear(raw[:n], normalised[:n])
