"""Benchmark dtl's cross-lingual mappings on synthetic spaces with a known answer.

    python scripts/bench_mapping.py                  # 20k and 50k words per language
    python scripts/bench_mapping.py --sizes 200000   # the big one (long: V x V CSLS terms)

Each size builds a base space with cluster structure and a decaying spectrum (dimension j
scaled by (j + 1) ** -0.5, as real embeddings are anisotropic; `--decay 0` gives the old
isotropic space), maps it into the "target" language by a random orthogonal matrix plus
Gaussian noise (`--noise`, per dimension; the default 1.5 is "moderate": supervised
Procrustes reaches P@1 >= 0.95; 4.0 with `--decay 0` is the hard setting), and leaves a
share of words on one side only. Row order stands for frequency (jittered per language).
The seed dictionary is the 5000 most frequent shared words, the test dictionary the next
1500 (MUSE's 0-5000 / 5000-6500 split). Self-learning starts from the first 25 seed pairs
only, with dtl's defaults (cutoff 20000, patience 5).

Each size first times the closed-form solves (least squares, Procrustes) on the 5000 seed
pairs. Then, for each method, the table gives P@1 by nearest neighbour and CSLS, the fit time,
for self-learning the iterations, the median seconds per iteration, the bare products one
iteration makes at the cutoff ("prod s": cutoff x cutoff similarities, once each way; the
median of timings taken right after every 4th iteration) and "i/p", the median over those
pairs of iteration seconds / products seconds, the time of dtl's BLI evaluation (NN + CSLS
over the whole target vocabulary, r_S over the whole mapped source vocabulary), its ratio
to the bare matrix products that an exact NN + CSLS evaluation cannot avoid (queries x V
once, V x V in row batches), and the peak memory that Python allocated (tracemalloc, which
numpy reports to). Up to 50k words the BLI and bare times are the best of 3, taken
alternately. A "csls_pool" row under a method is the approximate evaluation: r_S over only
the `--pool` most frequent mapped source words.
"procrustes+vecmap" is Procrustes with VecMap's multi-step recipe (whitening, re-weighting
0.5 both sides, de-whitening src/trg), evaluated in its shared space.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc

import numpy as np

from dtl_cli.align.bli import evaluate_bli
from dtl_cli.align.learn import learn_map
from dtl_cli.align.mappings import apply_map, fit_linear, fit_procrustes
from dtl_cli.align.multistep import MultiStep
from dtl_cli.align.retrieval import tile_shape, unit_rows

N_TRAIN, N_TEST, N_SEED = 5000, 1500, 25


def synthetic(V: int, dim: int, noise: float, one_sided: float, seed: int, decay: float = 0.0):
    """Source and target spaces of V words each, and train/test dictionaries as words.

    ``decay`` > 0 gives the base space a decaying spectrum: dimension j is scaled by
    (j + 1) ** -decay, normalised so that the total variance does not change.
    """
    rng = np.random.default_rng(seed)
    n_shared = int(V * (1 - one_sided))
    n_only = V - n_shared
    n_concepts = n_shared + 2 * n_only
    centers = rng.normal(size=(200, dim)).astype(np.float32)
    base = centers[rng.integers(0, 200, n_concepts)] * 0.7
    base += rng.normal(size=(n_concepts, dim)).astype(np.float32)
    scale = (1.0 + np.arange(dim)) ** -decay
    base *= (scale / np.sqrt(np.mean(scale**2))).astype(np.float32)
    Q, R = np.linalg.qr(rng.normal(size=(dim, dim)))
    Q = (Q * np.sign(np.diag(R))).astype(np.float32)
    # Concepts 0..n_shared-1 exist in both languages; then source-only, then target-only.
    rank = rng.permutation(n_concepts).astype(np.float64)  # shared "true" frequency rank
    src_concepts = np.concatenate([np.arange(n_shared), n_shared + np.arange(n_only)])
    tgt_concepts = np.concatenate([np.arange(n_shared), n_shared + n_only + np.arange(n_only)])

    def order(concepts):  # per-language frequency: true rank times log-normal jitter
        return concepts[np.argsort(rank[concepts] * np.exp(rng.normal(0, 0.3, len(concepts))))]

    src_concepts, tgt_concepts = order(src_concepts), order(tgt_concepts)
    X = unit_rows(base[src_concepts])
    Y = base[tgt_concepts] @ Q.T
    Y += noise * rng.normal(size=Y.shape).astype(np.float32)
    Y = unit_rows(Y)
    src_words = [f"c{c}" for c in src_concepts]
    tgt_words = [f"c{c}" for c in tgt_concepts]  # same name = translation
    shared_by_freq = [c for c in src_concepts if c < n_shared][: N_TRAIN + N_TEST]
    train = [(f"c{c}", f"c{c}") for c in shared_by_freq[:N_TRAIN]]
    test = [(f"c{c}", f"c{c}") for c in shared_by_freq[N_TRAIN:]]
    # Distinct spellings per side, so "identical strings" cannot cheat.
    src_words = ["en_" + w for w in src_words]
    tgt_words = ["zh_" + w for w in tgt_words]
    train = [("en_" + s, "zh_" + t) for s, t in train]
    test = [("en_" + s, "zh_" + t) for s, t in test]
    return src_words, X, tgt_words, Y, train, test


def _products(pairs, batch_size: int) -> float:
    """Seconds for A @ B.T of each (A, B) in ``pairs``, tile by tile as dtl computes them
    (same tile shapes, reused buffer), and nothing else."""
    start = time.perf_counter()
    for A, B in pairs:
        rows, cols = tile_shape(len(A), len(B), batch_size)
        buf = np.empty(rows * cols, dtype=np.float32)
        for r0 in range(0, len(A), rows):
            r1 = min(r0 + rows, len(A))
            for c0 in range(0, len(B), cols):
                c1 = min(c0 + cols, len(B))
                tile = buf[: (r1 - r0) * (c1 - c0)].reshape(r1 - r0, c1 - c0)
                np.matmul(A[r0:r1], B[c0:c1].T, out=tile)
    return time.perf_counter() - start


def bare_products(queries: np.ndarray, T: np.ndarray, pool: np.ndarray) -> float:
    """Seconds for the products an exact NN + CSLS evaluation needs: queries x V once and
    V x V (targets x mapped source pool) for the r_S terms."""
    return _products(((queries, T), (T, pool)), 4096)


# "+vecmap" after a method name adds VecMap's multi-step recipe to its final fit.
VECMAP = MultiStep(
    whiten=True, src_reweight=0.5, trg_reweight=0.5, src_dewhiten="src", trg_dewhiten="trg"
)


def measure(method, src_words, X, tgt_words, Y, train, test, cutoff, patience, csls_pool):
    src_index = {w: i for i, w in enumerate(src_words)}
    tgt_index = {w: i for i, w in enumerate(tgt_words)}
    pairs = np.array([(src_index[s], tgt_index[t]) for s, t in train])
    base, _, recipe = method.partition("+")
    if base == "self_learning":
        pairs = pairs[:N_SEED]
    # Every 4th self-learning iteration is paired with a timing of its bare products taken
    # right after it, so the ratio is not skewed by the machine's speed drifting over the
    # minutes of the loop (that time is left out of the fit time).
    S, T = unit_rows(X[:cutoff]), unit_rows(Y[:cutoff])
    paired: list[tuple[float, float]] = []

    def pair_with_products(entry: dict) -> None:
        if entry["iteration"] % 4 == 0:
            paired.append((entry["seconds"], iteration_products(S, T)))

    tracemalloc.start()
    start = time.perf_counter()
    learned = learn_map(
        base,
        X,
        Y,
        pairs,
        self_learning={"cutoff": cutoff, "patience": patience},
        multistep=VECMAP if recipe == "vecmap" else None,
        log=pair_with_products,
    )
    fit_s = time.perf_counter() - start - sum(products for _, products in paired)
    into_shared = learned.shared or (np.eye(Y.shape[1], dtype=np.float32), np.zeros(Y.shape[1]))
    mapped = apply_map(apply_map(X, learned.W, learned.b), *into_shared)
    targets = apply_map(Y, *into_shared)
    start = time.perf_counter()
    bli = evaluate_bli(src_words, mapped, tgt_words, targets, test, ks=(1,), csls_pool=csls_pool)
    bli_s = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "nn": bli["nn"]["p@1"],
        "csls": bli["csls"]["p@1"],
        "fit_s": fit_s,
        "bli_s": bli_s,
        "history": learned.history,
        "paired": paired,
        "peak_mb": peak / 2**20,
        "mapped": mapped,
        "targets": targets,
    }


def iteration_products(S: np.ndarray, T: np.ndarray) -> float:
    """Seconds for the products one self-learning iteration makes over unit rows S and T
    (the cutoff most frequent words): S x T and T x S, once each way."""
    return _products(((S, T), (T, S)), 2048)


def solve_seconds(X: np.ndarray, Y: np.ndarray) -> dict[str, float]:
    """Best of 3 wall seconds of each closed-form solve on the first N_TRAIN row pairs."""
    A, B = X[:N_TRAIN], Y[:N_TRAIN]
    out = {}
    for name, solve in (("linear", fit_linear), ("procrustes", fit_procrustes)):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            solve(A, B)
            times.append(time.perf_counter() - start)
        out[name] = min(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,50000", help="words per language, comma list")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--noise", type=float, default=1.5, help="target noise per dimension")
    parser.add_argument("--decay", type=float, default=0.5, help="spectrum decay exponent")
    parser.add_argument("--one-sided", type=float, default=0.2, help="share of one-side words")
    parser.add_argument(
        "--methods",
        default="linear,procrustes,procrustes+vecmap,self_learning",
        help="comma list; '+vecmap' adds VecMap's multi-step recipe to a method",
    )
    parser.add_argument("--cutoff", type=int, default=20000, help="self-learning cutoff")
    parser.add_argument("--patience", type=int, default=5, help="self-learning patience")
    parser.add_argument(
        "--pool", type=int, default=20000, help="approximate CSLS pool (0: exact only)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}; dim {args.dim}, "
        f"noise {args.noise}, decay {args.decay}, one-sided {args.one_sided:.0%}, "
        f"{N_TRAIN} train pairs, {N_TEST} test queries, "
        f"self-learning from {N_SEED} pairs (cutoff {args.cutoff}, patience {args.patience})"
    )
    header = (
        f"{'V':>7} {'method':<22} {'P@1 nn':>7} {'P@1 csls':>8} {'fit s':>7} {'iters':>5} "
        f"{'iter s':>6} {'prod s':>6} {'i/p':>6} {'BLI s':>7} {'bare s':>7} {'ratio':>6} "
        f"{'peak MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for V in (int(s) for s in args.sizes.split(",")):
        data = synthetic(V, args.dim, args.noise, args.one_sided, args.seed, args.decay)
        src_words, X, tgt_words, Y, train, test = data
        solves = solve_seconds(X, Y)
        print(
            f"{V:>7} closed-form solves on {N_TRAIN} pairs: linear {solves['linear']:.3f} s, "
            f"procrustes {solves['procrustes']:.3f} s",
            flush=True,
        )
        where = {w: i for i, w in enumerate(src_words)}
        for method in args.methods.split(","):
            r = measure(method, *data, args.cutoff, args.patience, csls_pool=None)
            queries = unit_rows(r["mapped"][[where[s] for s, _ in test]])
            pool, targets = unit_rows(r["mapped"]), unit_rows(r["targets"])
            bare = bare_products(queries, targets, pool)
            # Small sizes: best of 3, BLI and bare alternating, as single timings here
            # move by 10-20%; at 200k one of each takes minutes and noise matters less.
            for _ in range(2 if V <= 50000 else 0):
                start = time.perf_counter()
                evaluate_bli(src_words, r["mapped"], tgt_words, r["targets"], test, ks=(1,))
                r["bli_s"] = min(r["bli_s"], time.perf_counter() - start)
                bare = min(bare, bare_products(queries, targets, pool))
            iters = iter_s = prod_s = iter_ratio = "-"
            if r["history"]:
                iters = len(r["history"])
                iter_s = f"{np.median([h['seconds'] for h in r['history']]):.2f}"
            if r["paired"]:
                prod_s = f"{np.median([p for _, p in r['paired']]):.2f}"
                iter_ratio = f"{np.median([i / p for i, p in r['paired']]):.2f}"
            print(
                f"{V:>7} {method:<22} {r['nn']:>7.3f} {r['csls']:>8.3f} {r['fit_s']:>7.1f} "
                f"{iters:>5} {iter_s:>6} {prod_s:>6} {iter_ratio:>6} {r['bli_s']:>7.1f} "
                f"{bare:>7.1f} {r['bli_s'] / bare:>6.2f} {r['peak_mb']:>8.0f}",
                flush=True,
            )
            if 0 < args.pool < V:
                start = time.perf_counter()
                approx = evaluate_bli(
                    src_words,
                    r["mapped"],
                    tgt_words,
                    r["targets"],
                    test,
                    ks=(1,),
                    csls_pool=args.pool,
                )
                approx_s = time.perf_counter() - start
                label = f"  csls_pool={args.pool}"
                print(
                    f"{V:>7} {label:<22} {approx['nn']['p@1']:>7.3f} "
                    f"{approx['csls']['p@1']:>8.3f} {'':>7} {'':>5} {'':>6} {'':>6} {'':>6} "
                    f"{approx_s:>7.1f} {bare:>7.1f} {approx_s / bare:>6.2f}",
                    flush=True,
                )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
