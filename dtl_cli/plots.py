"""Plots written into run folders (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def plot_learning_curve(curve: list[dict], path: Path, title: str = "") -> Path:
    """Accuracy and macro-F1 against k, transfer and target-only lines with ±1 std bands.

    `curve` rows: {"k": int, "transfer": {"accuracy", "accuracy_std", "macro_f1",
    "macro_f1_std"}, "baseline": {...}}, sorted by k.
    """
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    ks = [row["k"] for row in curve]
    for axis, metric, label in zip(
        axes, ("accuracy", "macro_f1"), ("accuracy", "macro-F1"), strict=True
    ):
        for side, colour in (("transfer", "tab:blue"), ("baseline", "tab:orange")):
            mean = [row[side][metric] for row in curve]
            std = [row[side][f"{metric}_std"] for row in curve]
            name = "transfer" if side == "transfer" else "target only"
            axis.plot(ks, mean, marker="o", color=colour, label=name)
            axis.fill_between(
                ks,
                [m - s for m, s in zip(mean, std, strict=True)],
                [m + s for m, s in zip(mean, std, strict=True)],
                color=colour,
                alpha=0.2,
            )
        axis.set_xlabel("k (labelled target examples)")
        axis.set_ylabel(label)
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
        smallest = min((k for k in ks if k > 0), default=1)
        if max(ks) > 20 * smallest:  # k spans decades: a log axis that still shows k = 0
            axis.set_xscale("symlog", linthresh=smallest)
    axes[0].legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
