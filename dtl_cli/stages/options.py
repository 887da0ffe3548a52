"""Stage options read from the config in the shape the library modules take."""

from __future__ import annotations

from omegaconf import DictConfig

from dtl_cli.align.multistep import MultiStep
from dtl_cli.schema import ProcrustesMapping, is_a


def multistep_steps(m: DictConfig) -> MultiStep:
    """The multi-step framework options of ``mapping`` (procrustes and self_learning; the
    other methods have none: plain steps)."""
    if not is_a(m, ProcrustesMapping):
        return MultiStep()
    return MultiStep(
        whiten=m.whiten,
        src_reweight=m.src_reweight,
        trg_reweight=m.trg_reweight,
        src_dewhiten=None if m.src_dewhiten is None else str(m.src_dewhiten),
        trg_dewhiten=None if m.trg_dewhiten is None else str(m.trg_dewhiten),
    )
