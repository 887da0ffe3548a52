"""The number a run returns to a Hydra sweeper (`evaluation.objective`), e.g. for Optuna.

Names: `dev_<metric>[@k]` (transfer on the dev split), `dev_gain_<metric>[@k]`,
`dev_baseline_<metric>[@k]` with metric `accuracy` or `macro_f1` (k: the largest when left
out), or `bli.<nn|csls>.p@<n>` (lexicon induction on the held-out dictionary). Nothing reads
the test split: tuning on it would make the test numbers optimistic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dtl_cli.errors import ConfigError

_DEV = re.compile(r"dev_(?:(gain|baseline)_)?(accuracy|macro_f1)(?:@(\d+))?")
_BLI = re.compile(r"bli\.(nn|csls)\.p@(\d+)")
EXAMPLES = "dev_macro_f1@50, dev_accuracy, dev_gain_accuracy@10 or bli.csls.p@1"


@dataclass(frozen=True)
class Objective:
    name: str
    split: str  # dev | bli
    side: str  # transfer | gain | baseline (dev); nn | csls (bli)
    metric: str  # accuracy | macro_f1 (dev); p@N (bli)
    k: int | None = None  # dev: the k it is read at; None = the largest


def parse_objective(name: str) -> Objective:
    """Raises ConfigError naming the key for anything else (test-split names included)."""
    if m := _DEV.fullmatch(name):
        side, metric, k = m.groups()
        return Objective(name, "dev", side or "transfer", metric, int(k) if k else None)
    if m := _BLI.fullmatch(name):
        return Objective(name, "bli", m.group(1), f"p@{m.group(2)}")
    why = " (the test split is never tuned on)" if name.startswith("test") else ""
    raise ConfigError(f"evaluation.objective={name!r} is not an objective{why}; use {EXAMPLES}")


def objective_value(objective: Objective, metrics: dict, bli: dict | None) -> float:
    """The objective's value from a run's metrics.json dict (dev) or its BLI scores."""
    if objective.split == "bli":
        scores = (bli or metrics.get("bli") or {}).get(objective.side, {})
        if objective.metric not in scores:
            raise ConfigError(
                f"evaluation.objective={objective.name}: this run measured no "
                f"{objective.side} {objective.metric} (evaluation.bli.precision_at)"
            )
        return float(scores[objective.metric])
    rows = {row["k"]: row for row in metrics.get("curve", []) if "dev" in row}
    if not rows:
        raise ConfigError(
            f"evaluation.objective={objective.name} needs a dev split: set "
            "evaluation.dev_fraction (e.g. 0.2)"
        )
    k = max(rows) if objective.k is None else objective.k
    if k not in rows:
        raise ConfigError(
            f"evaluation.objective={objective.name}: k={k} is not in this run's evaluation.k "
            f"({', '.join(map(str, sorted(rows)))})"
        )
    return float(rows[k]["dev"][objective.side][objective.metric])


def check_objective(name: str | None, verb: str, dev_fraction: float) -> Objective | None:
    """The parsed `evaluation.objective` for a run of `verb`, checked before any work (also
    `evaluation.dev_fraction`'s range)."""
    if not 0.0 <= float(dev_fraction or 0.0) < 1.0:
        raise ConfigError(
            f"evaluation.dev_fraction={dev_fraction}: use a share in [0, 1), e.g. 0.2 "
            "(0: no dev split)"
        )
    if name is None:
        return None
    objective = parse_objective(name)
    if objective.split == "dev":
        if dev_fraction <= 0:
            raise ConfigError(
                f"evaluation.objective={name} is scored on a dev split: set "
                "evaluation.dev_fraction, e.g. evaluation.dev_fraction=0.2"
            )
        if verb not in ("evaluate", "run"):
            raise ConfigError(
                f"evaluation.objective={name} needs the evaluate stage: use `dtl run` or "
                f"`dtl evaluate`, not `dtl {verb}`"
            )
    elif verb in ("pretrain",):
        raise ConfigError(f"evaluation.objective={name} needs the map stage, not `dtl {verb}`")
    return objective
