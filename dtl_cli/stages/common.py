"""Helpers several stages share: the (k, repeat) grid and the training arguments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dtl_cli.errors import ConfigError


def k_values(cfg: DictConfig) -> list[int | str]:
    """`evaluation.k` as a list: one value, or several for a learning curve (the schema has
    checked each is a whole number >= 0 or "all")."""
    k = cfg.evaluation.k
    return list(k) if OmegaConf.is_list(k) or isinstance(k, list | tuple) else [k]


def shots(cfg: DictConfig) -> list[tuple[int | str, int]]:
    """Every (k, repeat) the config asks for; k = 0 needs no repeats (nothing is sampled)."""
    repeats = cfg.evaluation.repeats
    return [(k, r) for k in k_values(cfg) for r in range(1 if k == 0 else repeats)]


def resolve_k(k: int | str, n_available: int) -> int:
    """A k value as a number of target training examples (`all` -> every one)."""
    if k == "all":
        return n_available
    if k > n_available:
        raise ConfigError(
            f"evaluation.k={k} but the target training split has only {n_available} examples; "
            f"use evaluation.k<={n_available} or evaluation.k=all"
        )
    return k


def training_args(cfg: DictConfig) -> dict:
    """Keyword arguments of `fit_classifier` shared by every training run of a config."""
    m = cfg.model
    return {
        "batch_size": m.batch_size,
        "validation_split": m.validation_split,
        "patience": m.early_stopping_patience,
        "optimizer": m.optimizer,
        "class_weight": m.class_weight,
        "seed": cfg.seed,
    }


def tensorboard_dir(run_dir: Path, name: str) -> Path:
    """Where a training run's TensorBoard logs go: `<run folder>/tensorboard/<name>`."""
    return run_dir / "tensorboard" / name


def dev_fraction(cfg: DictConfig) -> float:
    """`evaluation.dev_fraction`: the share of the target training split held out as dev."""
    fraction = float(cfg.evaluation.dev_fraction)
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(
            f"evaluation.dev_fraction={fraction}: use a share in [0, 1), e.g. 0.2 (0: no dev split)"
        )
    return fraction


@contextmanager
def config_values(keys: str) -> Iterator[None]:
    """Within: a ValueError or TypeError that a library module raises for a value the config
    gave it becomes a ConfigError naming the config keys it came from (`keys`, e.g.
    "mapping.*"), instead of a traceback. Wrap only calls that take config values."""
    try:
        yield
    except (ValueError, TypeError) as err:
        reason = " ".join(str(err).split())[:300] or type(err).__name__
        raise ConfigError(f"{reason} [{keys}]; check those config values") from err
