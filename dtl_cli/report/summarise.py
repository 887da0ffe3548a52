"""Grouping runs into configurations: swept keys, mean ± std per metric, best rows."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from dtl_cli.report.runs import DONE, ReportError

# The main metrics: column (a dotted path into metrics.json) -> column title.
METRICS: dict[str, str] = {
    "transfer.accuracy": "accuracy",
    "transfer.macro_f1": "macro-F1",
    "baseline.accuracy": "baseline acc",
    "gain.accuracy": "gain acc",
    "bli.nn.p@1": "BLI nn P@1",
    "bli.csls.p@1": "BLI csls P@1",
    "objective": "objective",  # a hyperparameter search's evaluation.objective
}
# Short names accepted by --metric.
ALIASES: dict[str, str] = {
    "accuracy": "transfer.accuracy",
    "macro_f1": "transfer.macro_f1",
    "f1": "transfer.macro_f1",
    "baseline": "baseline.accuracy",
    "gain": "gain.accuracy",
    "nn": "bli.nn.p@1",
    "csls": "bli.csls.p@1",
}
DEFAULT_METRIC = "transfer.accuracy"
# Keys that repeat a configuration rather than change it: aggregated over, never grouped by.
REPEAT_KEYS = ("seed", "repeat")


def swept_keys(runs: pd.DataFrame) -> list[str]:
    """Override keys whose value differs between runs, `seed`/`repeat` excluded."""
    keys = runs.attrs.get("params", [])
    return [
        key
        for key in keys
        if key not in REPEAT_KEYS and runs[key].astype(str).nunique(dropna=False) > 1
    ]


def fixed_overrides(runs: pd.DataFrame) -> dict[str, Any]:
    """Override keys every run shares the same value of (shown under the table)."""
    return {
        key: runs[key].iloc[0]
        for key in runs.attrs.get("params", [])
        if key not in REPEAT_KEYS and runs[key].astype(str).nunique(dropna=False) == 1
    }


def resolve_metric(name: str, runs: pd.DataFrame) -> str:
    metric = ALIASES.get(name, name)
    if metric in METRICS or metric in runs.columns:
        return metric
    raise ReportError(
        f"unknown metric {name!r}; choose one of {', '.join(METRICS)} (short: "
        f"{', '.join(ALIASES)}) or another number in metrics.json, e.g. bli.csls.p@5 or "
        "transfer.per_class.<label>.f1"
    )


def summarize(runs: pd.DataFrame, group: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per configuration (`group` values): `runs` (how many), `done`, then
    `<metric>` (mean over done runs) and `<metric>.std` for each metric.

    Rows are sorted by the group keys (numbers numerically, then text).
    """
    frame = runs.copy()
    for metric in metrics:
        if metric not in frame.columns:
            frame[metric] = math.nan
    keys = group or ["_all"]
    if not group:
        frame["_all"] = "all runs"
    frame[keys] = frame[keys].astype(object).where(frame[keys].notna(), "null")
    out = []
    for values, part in frame.groupby(keys, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        done = part[part["status"] == DONE]
        row: dict[str, Any] = dict(zip(keys, values, strict=True))
        row["runs"] = len(part)
        row["done"] = len(done)
        for metric in metrics:
            column = pd.to_numeric(done[metric], errors="coerce")
            row[metric] = column.mean() if column.notna().any() else math.nan
            row[f"{metric}.std"] = column.std() if column.notna().sum() > 1 else math.nan
        out.append(row)
    summary = pd.DataFrame(out)
    order = sorted(range(len(summary)), key=lambda i: [_sort_key(summary.at[i, k]) for k in keys])
    summary = summary.iloc[order].reset_index(drop=True)
    return summary.drop(columns=["_all"]) if not group else summary


def _is_number(value: Any) -> bool:
    """Python and NumPy ints and floats, not booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _sort_key(value: Any) -> tuple[int, float, str]:
    if _is_number(value):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def is_numeric_key(values: Iterable[Any]) -> bool:
    values = [v for v in values if v is not None and v != "null"]
    return bool(values) and all(_is_number(v) for v in values)


def best_rows(summary: pd.DataFrame, metric: str) -> set[int]:
    """Indices of the rows with the highest mean of `metric` (ties all count)."""
    column = pd.to_numeric(summary[metric], errors="coerce")
    if column.notna().sum() < 1:
        return set()
    top = column.max()
    return {i for i, v in column.items() if v == top}


def value_text(value: Any) -> str:
    """A key's value as shown in tables and plot labels: 20.0 -> "20", 0.5 -> "0.5", floats
    to 4 significant digits, others as str()."""
    if _is_number(value) and float(value).is_integer():
        return str(int(value))
    if _is_number(value):
        return f"{float(value):.4g}"  # searched rates: 0.0001494, not 0.00014936835544198
    return str(value)


def metric_title(metric: str) -> str:
    """The column title of a main metric ("accuracy"); other metrics keep their dotted path."""
    return METRICS.get(metric, metric)
