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
1500 (MUSE's 0-5000 / 5000-6500 split). Self-learning starts from the first 25 seed pairs only.

For each method the table gives P@1 by nearest neighbour and CSLS, the fit time, the time of
dtl's BLI evaluation (NN + CSLS over the whole target vocabulary, r_S over the whole mapped
source vocabulary), its ratio to the bare matrix products that an exact NN + CSLS evaluation
cannot avoid (queries x V once, V x V in row batches), and the peak memory that Python
allocated (tracemalloc, which numpy reports to).
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc

import numpy as np

from dtl_cli.align.bli import evaluate_bli
from dtl_cli.align.learn import learn_map
from dtl_cli.align.mappings import apply_map
from dtl_cli.align.retrieval import _rows_per_block, unit_rows

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


def bare_products(queries: np.ndarray, T: np.ndarray, pool: np.ndarray) -> float:
    """Seconds for the products an exact NN + CSLS evaluation needs, nothing else: queries x V
    once and V x V in row batches, written into reused buffers of the size dtl uses."""
    start = time.perf_counter()
    for A, B in ((queries, T), (T, pool)):
        rows = _rows_per_block(4096, len(B))
        buf = np.empty((min(rows, len(A)), len(B)), dtype=np.float32)
        for lo in range(0, len(A), rows):
            hi = min(lo + rows, len(A))
            np.matmul(A[lo:hi], B.T, out=buf[: hi - lo])
    return time.perf_counter() - start


def measure(method, src_words, X, tgt_words, Y, train, test, cutoff, patience):
    src_index = {w: i for i, w in enumerate(src_words)}
    tgt_index = {w: i for i, w in enumerate(tgt_words)}
    pairs = np.array([(src_index[s], tgt_index[t]) for s, t in train])
    if method == "self_learning":
        pairs = pairs[:N_SEED]
    tracemalloc.start()
    start = time.perf_counter()
    learned = learn_map(
        method,
        X,
        Y,
        pairs,
        self_learning={"cutoff": cutoff, "patience": patience},
    )
    fit_s = time.perf_counter() - start
    mapped = apply_map(X, learned.W, learned.b)
    start = time.perf_counter()
    bli = evaluate_bli(src_words, mapped, tgt_words, Y, test, ks=(1,))
    bli_s = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "nn": bli["nn"]["p@1"],
        "csls": bli["csls"]["p@1"],
        "fit_s": fit_s,
        "bli_s": bli_s,
        "iters": len(learned.history),
        "peak_mb": peak / 2**20,
        "mapped": mapped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,50000", help="words per language, comma list")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--noise", type=float, default=1.5, help="target noise per dimension")
    parser.add_argument("--decay", type=float, default=0.5, help="spectrum decay exponent")
    parser.add_argument("--one-sided", type=float, default=0.2, help="share of one-side words")
    parser.add_argument("--methods", default="linear,procrustes,self_learning")
    parser.add_argument("--cutoff", type=int, default=10000, help="self-learning cutoff")
    parser.add_argument("--patience", type=int, default=2, help="self-learning patience")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"machine: {platform.machine()}, {__import__('os').cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}; dim {args.dim}, "
        f"noise {args.noise}, decay {args.decay}, one-sided {args.one_sided:.0%}, "
        f"{N_TRAIN} train pairs, {N_TEST} test queries, "
        f"self-learning from {N_SEED} pairs (cutoff {args.cutoff})"
    )
    header = (
        f"{'V':>7} {'method':<14} {'P@1 nn':>7} {'P@1 csls':>8} {'fit s':>7} {'iters':>5} "
        f"{'BLI s':>7} {'bare s':>7} {'ratio':>6} {'peak MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for V in (int(s) for s in args.sizes.split(",")):
        data = synthetic(V, args.dim, args.noise, args.one_sided, args.seed, args.decay)
        src_words, X, tgt_words, Y, train, test = data
        for method in args.methods.split(","):
            r = measure(method, *data, cutoff=args.cutoff, patience=args.patience)
            where = {w: i for i, w in enumerate(src_words)}
            queries = r["mapped"][[where[s] for s, _ in test]]
            bare = bare_products(unit_rows(queries), Y, unit_rows(r["mapped"]))
            print(
                f"{V:>7} {method:<14} {r['nn']:>7.3f} {r['csls']:>8.3f} {r['fit_s']:>7.1f} "
                f"{r['iters'] or '-':>5} {r['bli_s']:>7.1f} {bare:>7.1f} "
                f"{r['bli_s'] / bare:>6.2f} {r['peak_mb']:>8.0f}",
                flush=True,
            )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
