"""Checks of stage options that the config schema's types cannot express (allowed values,
ranges, combinations). Importable without TensorFlow, so `hydra_app` runs them before the
devices are set up and a bad value costs no work."""

from __future__ import annotations

from omegaconf import DictConfig

from dtl_cli.align.learn import DIRECTIONS, METHODS
from dtl_cli.align.multistep import MultiStep
from dtl_cli.align.normalize import STEPS
from dtl_cli.errors import ConfigError
from dtl_cli.text.script import SCRIPTS

SEEDS = ("dictionary", "identical", "numerals")


def check_options(cfg: DictConfig) -> None:
    """Fail before any work on a mapping or BLI option that is not one of the known values."""
    pool = cfg.evaluation.bli.csls_pool
    if pool is not None and pool < 1:
        raise ConfigError(
            f"evaluation.bli.csls_pool={pool} must be >= 1 (approximate CSLS) or null (exact)"
        )
    max_len = cfg.model.max_len
    if max_len != "auto" and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
    ):
        raise ConfigError(f"model.max_len={max_len!r} must be a whole number >= 1 or auto")
    if not 0 < cfg.model.max_len_percentile <= 100:
        raise ConfigError(
            f"model.max_len_percentile={cfg.model.max_len_percentile} must be in (0, 100]"
        )
    if cfg.model.max_len_cap < 1:
        raise ConfigError(f"model.max_len_cap={cfg.model.max_len_cap} must be >= 1")
    script = cfg.dataset.dictionary.script
    if script not in SCRIPTS:
        raise ConfigError(f"dataset.dictionary.script={script!r} is not one of {SCRIPTS}")
    workers = cfg.embedding.workers
    if workers != "auto" and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ConfigError(
            f"embedding.workers={workers!r}: use 1 (deterministic), a number of threads, or auto"
        )
    m = cfg.mapping
    if m.method not in METHODS:
        raise ConfigError(f"mapping.method={m.method!r} is not one of {METHODS}")
    if m.direction not in DIRECTIONS:
        raise ConfigError(f"mapping.direction={m.direction!r} is not one of {DIRECTIONS}")
    if m.seed not in SEEDS:
        raise ConfigError(f"mapping.seed={m.seed!r} is not one of {SEEDS}")
    for step in m.normalize:
        if step not in STEPS:
            raise ConfigError(f"mapping.normalize has {step!r}; use steps from {STEPS}")
    seed_pairs = m.seed_pairs
    if seed_pairs is not None and seed_pairs < 1:
        raise ConfigError(f"mapping.seed_pairs={seed_pairs} must be >= 1 (or null for all)")
    for key in ("cutoff", "csls_k", "patience", "max_iterations", "batch_size"):
        if key in m and m[key] < 1:
            raise ConfigError(f"mapping.{key}={m[key]} must be >= 1")
    if "keep_prob" in m and not 0 < m.keep_prob <= 1:
        raise ConfigError(f"mapping.keep_prob={m.keep_prob} must be in (0, 1]")
    steps = multistep_steps(m)
    if not steps.is_orthogonal and m.method not in ("procrustes", "self_learning"):
        raise ConfigError(
            f"mapping.whiten/src_reweight/trg_reweight apply to procrustes and self_learning, "
            f"not mapping={m.method}; drop them or pick one of those"
        )


def multistep_steps(m: DictConfig) -> MultiStep:
    """The multi-step framework options of ``mapping`` (all off: plain orthogonal)."""
    try:
        return MultiStep(
            whiten=bool(m.get("whiten", False)),
            src_reweight=float(m.get("src_reweight", 0.0)),
            trg_reweight=float(m.get("trg_reweight", 0.0)),
            src_dewhiten=m.get("src_dewhiten"),
            trg_dewhiten=m.get("trg_dewhiten"),
        )
    except ValueError as err:
        raise ConfigError(f"mapping.{err}; de-whitening takes null, src or trg") from None
