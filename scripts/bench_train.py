"""Benchmark: training throughput (documents/second) of each dtl model on this CPU, against
the same Keras model fit on the same arrays in a bare `model.fit(numpy arrays)` loop.

dtl's path adds a tf.data pipeline (batches trimmed to their longest document, prefetch),
callbacks and validation handling; its overhead should stay under 10% (it is usually faster,
because trimmed batches are shorter). Usage: python scripts/bench_train.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=".*does not support masking")  # CNN: by design

import keras  # noqa: E402
import numpy as np  # noqa: E402

from dtl_cli.models.classifier import Architecture, build_classifier  # noqa: E402
from dtl_cli.models.training import fit_classifier  # noqa: E402


def synthetic(n_docs: int, vocab: int, dim: int, max_len: int, longest: int, seed: int = 0):
    """Token ids [n, max_len] with lengths 5..longest (padding 0 at the end), 4 labels."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, longest + 1, n_docs)
    ids = rng.integers(2, vocab, (n_docs, max_len)).astype("int32")
    ids[np.arange(max_len)[None, :] >= lengths[:, None]] = 0
    labels = rng.integers(0, 4, n_docs)
    matrix = rng.normal(size=(vocab, dim)).astype("float32")
    return matrix, ids, labels


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, so tracing and compiling (epoch 1) can be left out."""

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)


def epoch_seconds(fit, epochs: int) -> float:
    """Seconds of the fastest epoch after the first (the first traces and compiles)."""
    timer = EpochTimer()
    fit(epochs + 1, timer)
    return min(timer.seconds[1:])


# Documents per model, so that one epoch lasts about 2 s here: long enough to time, short
# enough that many paired rounds fit in a few minutes.
DOCS = {"dan": 40000, "cnn": 12000, "bilstm": 4000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=None, help="documents (default: per model)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per fit")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="paired dtl/bare rounds")
    parser.add_argument("--models", default="dan,cnn,bilstm")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; documents padded to "
        f"{args.max_len}, batch {args.batch_size}, vocabulary 5000 x 50, {args.rounds} rounds"
    )
    print(
        f"{'model':8} {'lengths':>8} {'docs':>6} {'dtl docs/s':>11} {'bare docs/s':>12} "
        f"{'overhead (median)':>18} {'range':>13}"
    )
    models = args.models.split(",")
    for name, longest in [(m, n) for n in (args.max_len, 16) for m in models]:
        n_docs = args.docs or DOCS.get(name, 10000)
        matrix, ids, labels = synthetic(n_docs, 5000, 50, args.max_len, longest)
        arch = Architecture(name=name)
        keras.utils.set_random_seed(0)
        dtl_model = build_classifier(arch, matrix, 4)
        keras.utils.set_random_seed(0)
        bare_model = build_classifier(arch, matrix, 4)
        bare_model.compile(
            optimizer=keras.optimizers.Adam(0.001),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],  # what dtl reports per epoch, so the same work
        )

        def dtl_fit(epochs, timer, model=dtl_model, ids=ids, labels=labels):
            fit_classifier(
                model,
                ids,
                labels,
                epochs=epochs,
                batch_size=args.batch_size,
                learning_rate=0.001,
                validation_split=0.0,
                patience=1,
                seed=0,
                callbacks=[timer],
            )

        def bare_fit(epochs, timer, model=bare_model, ids=ids, labels=labels):
            model.fit(
                ids, labels, batch_size=args.batch_size, epochs=epochs, verbose=0, callbacks=[timer]
            )

        # Paired rounds: this machine's speed drifts by 2x over minutes (other tenants), so
        # each round times dtl and bare back to back (alternating who goes first) and the
        # overhead is the median of the per-round ratios.
        ratios, dtl_best, bare_best = [], float("inf"), float("inf")
        for round_number in range(args.rounds):
            first, second = (dtl_fit, bare_fit) if round_number % 2 == 0 else (bare_fit, dtl_fit)
            seconds = {fit: epoch_seconds(fit, args.epochs) for fit in (first, second)}
            ratios.append(seconds[dtl_fit] / seconds[bare_fit])
            dtl_best = min(dtl_best, seconds[dtl_fit])
            bare_best = min(bare_best, seconds[bare_fit])
        overhead = np.median(ratios) - 1
        spread = f"{min(ratios) - 1:+.0%}..{max(ratios) - 1:+.0%}"
        print(
            f"{name:8} {f'5-{longest}':>8} {n_docs:>6} {n_docs / dtl_best:11.0f} "
            f"{n_docs / bare_best:12.0f} {overhead:+18.0%} {spread:>13}",
            flush=True,
        )


if __name__ == "__main__":
    main()
