"""PNG plots of one metric against the swept keys (matplotlib, no display needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dtl_cli.report.summarise import is_numeric_key, metric_title, value_text


def plot(out: Path, summary: pd.DataFrame, group: list[str], metric: str, title: str) -> list[Path]:
    """PNG plots of `metric`: against each numeric swept key, one line per combination of the
    other keys, error bars for std; a bar chart when no swept key is numeric. Returns paths."""
    data = summary[summary[metric].notna()]
    if data.empty:
        return []
    numeric = [key for key in group if is_numeric_key(data[key])]
    if not numeric:
        return [_plot_bars(out / f"{_file_part(metric)}.png", data, group, metric, title)]
    return [
        _plot_against(
            out / f"{_file_part(metric)}_vs_{_file_part(x)}.png", data, group, x, metric, title
        )
        for x in numeric
    ]


def _plot_against(path: Path, data, group: list[str], x: str, metric: str, title: str) -> Path:
    """`metric` against the numeric key x, a line with std error bars per other keys' values."""
    plt = _pyplot()
    others = [key for key in group if key != x]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, part in _lines(data, others, x):
        ax.errorbar(
            part[x].astype(float),
            part[metric],
            yerr=part[f"{metric}.std"].fillna(0.0),
            marker="o",
            capsize=3,
            label=label or None,
        )
    ticks = sorted(data[x].astype(float).unique())
    if len(ticks) <= 12:
        ax.set_xticks(ticks, [value_text(t) for t in ticks])
    ax.set_xlabel(x)
    _label_axes(ax, metric_title(metric), title, legend=bool(others))
    return _save(fig, path)


def _plot_bars(path: Path, data, group: list[str], metric: str, title: str) -> Path:
    """`metric` as one bar (std error bar) per configuration."""
    plt = _pyplot()
    labels = [
        ", ".join(f"{k}={value_text(row[k])}" for k in group) or "all runs"
        for _, row in data.iterrows()
    ]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(labels) + 2), 4.2))
    ax.bar(range(len(labels)), data[metric], yerr=data[f"{metric}.std"].fillna(0.0), capsize=4)
    ax.set_xticks(range(len(labels)), labels, rotation=20 if len(labels) > 3 else 0)
    ax.set_ylabel(metric_title(metric))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def _pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _lines(data: pd.DataFrame, others: list[str], x: str):
    """(label "key=value, ...", rows sorted by x) per combination of the ``others`` keys."""
    parts = data.groupby(others, sort=False) if others else [((), data)]
    for values, part in parts:
        values = values if isinstance(values, tuple) else (values,)
        label = ", ".join(f"{k}={value_text(v)}" for k, v in zip(others, values, strict=True))
        yield label, part.sort_values(x)


def _label_axes(ax, ylabel: str, title: str, legend: bool = True) -> None:
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def _file_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("@", "at"))


CURVE_PNG = "learning_curves.png"


def plot_learning_curves(
    out: Path, summary: pd.DataFrame, group: list[str], metric: str, title: str
) -> list[Path]:
    """Learning-curve runs: `metric` against k, one solid line per configuration (the other
    grouped keys) and its target-only baseline dashed in the same colour. [] without k."""
    side, _, name = metric.partition(".")
    baseline = f"baseline.{name}"
    if "k" not in group or side != "transfer" or baseline not in summary.columns:
        return []
    plt = _pyplot()
    data = summary[summary[metric].notna() & summary["k"].map(_is_count)]
    if data["k"].nunique() < 2:
        return []
    others = [key for key in group if key != "k"]
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for label, part in _lines(data, others, "k"):
        k = part["k"].astype(float)
        line = ax.errorbar(
            k, part[metric], yerr=part[f"{metric}.std"].fillna(0.0), marker="o", capsize=3
        )
        line[0].set_label(f"{label or 'transfer'}")
        colour = line[0].get_color()
        ax.plot(k, part[baseline], linestyle="--", marker=".", color=colour)
    ax.plot([], [], linestyle="--", color="grey", label="target-only (dashed)")
    ticks = sorted(data["k"].astype(float).unique())
    ax.set_xscale("symlog", linthresh=max(1.0, min(t for t in ticks if t > 0) if any(ticks) else 1))
    ax.set_xticks(ticks, [value_text(t) for t in ticks])
    ax.set_xlabel("k (labelled target examples)")
    _label_axes(ax, metric_title(metric), title)
    return [_save(fig, out / CURVE_PNG)]


def _is_count(value) -> bool:
    try:
        return float(value) >= 0
    except (TypeError, ValueError):
        return False


TRIALS_PNG = "objective_by_trial.png"


def plot_trials(out: Path, runs: pd.DataFrame, title: str) -> list[Path]:
    """A search's objective per trial (dots) and the best so far (a step line), best ringed."""
    plt = _pyplot()
    data = runs[runs["objective"].notna()].copy()
    data = data[data["trial"].map(lambda t: isinstance(t, int))].sort_values("trial")
    if data.empty:
        return []
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(data["trial"], data["objective"], "o", label="trial")
    ax.step(data["trial"], data["objective"].cummax(), where="post", label="best so far")
    best = data.loc[data["objective"].idxmax()]
    ax.plot([best["trial"]], [best["objective"]], "o", ms=14, mfc="none", mec="red", label="best")
    ax.set_xlabel("trial (job number)")
    names = ", ".join(map(str, data["objective_name"].unique()))
    _label_axes(ax, f"objective ({names})", title)
    return [_save(fig, out / TRIALS_PNG)]
