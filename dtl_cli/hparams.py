"""TensorBoard's HParams view of runs (`logger.tensorboard_hparams=true`), no new dependency.

Each run gets `<run>/tensorboard/hparams/`: its flattened config as hyperparameters and its
final numbers as scalars, so `tensorboard --logdir <sweep folder>` lists every run of a sweep
in the HParams tab, one row each, sortable by any metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HPARAMS_DIR = ("tensorboard", "hparams")


def scalar_params(params: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """HParams takes bool, int, float and str values: lists and None become text."""
    out: dict[str, bool | int | float | str] = {}
    for key, value in params.items():
        out[key] = value if isinstance(value, bool | int | float | str) else str(value)
    return out


def log_hparams(run_dir: Path, params: dict[str, Any], metrics: dict[str, float]) -> Path:
    """Write the HParams summary and `metrics` (name -> value, step 0); returns the folder."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    folder = run_dir.joinpath(*HPARAMS_DIR)
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        hp.hparams(scalar_params(params), trial_id=str(run_dir))
        for name, value in metrics.items():
            tf.summary.scalar(name, value, step=0)
    writer.close()
    return folder
