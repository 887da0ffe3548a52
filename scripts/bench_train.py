"""Benchmark: training throughput (documents/second) of each dtl model on this CPU, against
the same Keras model fit on the same arrays in a bare `model.fit(numpy arrays)` loop.

dtl's path adds a tf.data pipeline (batches trimmed to their longest document, prefetch),
callbacks and validation handling; its overhead should stay under 10% (it is usually faster,
because trimmed batches are shorter). Usage: python scripts/bench_train.py [--docs 4000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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


def docs_per_second(fit, n_docs: int, epochs: int) -> float:
    """Documents per second in the fastest epoch after the first: on a shared machine the
    slow epochs measure the neighbours, the fastest one the code."""
    timer = EpochTimer()
    fit(epochs + 1, timer)
    return n_docs / min(timer.seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--models", default="dan,cnn,bilstm")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.docs} documents padded "
        f"to {args.max_len}, batch {args.batch_size}, vocabulary 5000 x 50"
    )
    print(f"{'model':8} {'lengths':>8} {'dtl docs/s':>11} {'bare docs/s':>12} {'dtl overhead':>13}")
    models = args.models.split(",")
    for name, longest in [(m, n) for n in (args.max_len, 16) for m in models]:
        matrix, ids, labels = synthetic(args.docs, 5000, 50, args.max_len, longest)
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

        # Alternate the two and keep each one's best, so a busy moment hits both alike.
        dtl_rate = bare_rate = 0.0
        for round_number in range(args.rounds):
            # Swap which goes first each round: the second of a pair runs on a warmer machine.
            pair = (dtl_fit, bare_fit) if round_number % 2 == 0 else (bare_fit, dtl_fit)
            for fit in pair:
                rate = docs_per_second(fit, args.docs, args.epochs)
                if fit is dtl_fit:
                    dtl_rate = max(dtl_rate, rate)
                else:
                    bare_rate = max(bare_rate, rate)
        overhead = bare_rate / dtl_rate - 1
        lengths = f"5-{longest}"
        print(f"{name:8} {lengths:>8} {dtl_rate:11.0f} {bare_rate:12.0f} {overhead:+12.0%}")


if __name__ == "__main__":
    main()
