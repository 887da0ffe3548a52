"""Stage 4, evaluate: score the transferred classifiers and the target-only baselines on the
target test split, for every (k, repeat); write `metrics.json` (and, for several k, a
learning-curve PNG) into the run folder and print a table.

Nothing is stored: evaluation is quick, and its result belongs to the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from rich.table import Table

from dtl_cli import ui
from dtl_cli.metrics import classification_metrics
from dtl_cli.plots import plot_learning_curve
from dtl_cli.splits import dev_split
from dtl_cli.stages import entries
from dtl_cli.stages.common import dev_fraction, shots
from dtl_cli.store import Store

STAGE = "evaluate"
CURVE_PNG = "learning_curve.png"


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return False


def _dev_split(cfg: DictConfig, store: Store, target, classes):
    """(ids, labels) of the dev split held out of the target training split, or None."""
    fraction = dev_fraction(cfg)
    if not fraction:
        return None
    train = entries.read_labelled(cfg, store, "target", target, classes)
    dev, _ = dev_split(train.labels, fraction, cfg.seed)
    return train.ids[dev], train.labels[dev]


def _score_all(
    cfg: DictConfig, store: Store
) -> tuple[dict[int, list[dict]], np.ndarray, list[str], int]:
    """Test (and dev) metrics of every (k, repeat): {k: [one dict per repeat]}, the test
    labels [n] (class ids), class names, the dev split's size (0: none)."""
    target = entries.read_space(cfg, store, "target")
    classes = entries.class_names(cfg, store)
    test = entries.read_labelled(cfg, store, "target_test", target, classes)
    dev = _dev_split(cfg, store, target, classes)
    carried = entries.carried_target_vectors(cfg, store, target)
    results: dict[int, list[dict]] = {}
    for k, repeat in shots(cfg):
        ft = entries.read_trained(cfg, store, "finetune", k, repeat, target, carried)
        base = entries.read_trained(cfg, store, "baseline", k, repeat, target)
        transfer = classification_metrics(test.labels, ft.predict(test.ids), classes)
        baseline = classification_metrics(test.labels, base.predict(test.ids), classes)
        row = {
            "repeat": repeat,
            "strategy": ft.info["strategy"],
            "transfer": transfer,
            "baseline": {"kind": base.info["kind"], **baseline},
            "finetune_history": ft.info["history"],
            "baseline_history": base.info.get("history", {}),
        }
        if dev is not None:  # held out of every k-shot sample: for hyperparameter search
            row["dev"] = {
                "transfer": classification_metrics(dev[1], ft.predict(dev[0]), classes),
                "baseline": classification_metrics(dev[1], base.predict(dev[0]), classes),
            }
        results.setdefault(ft.info["k"], []).append(row)
    return results, test.labels, classes, 0 if dev is None else len(dev[1])


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    results, test_labels, classes, n_dev = _score_all(cfg, store)
    curve = [_summarise(k, runs) for k, runs in sorted(results.items())]
    last = curve[-1]
    bli = entries.read_bli(cfg, store)
    metrics = {
        "k": last["k"] if len(curve) == 1 else [row["k"] for row in curve],
        "repeats": cfg.evaluation.repeats,
        "strategy": cfg.model.finetune.strategy,
        "adapt_norm": bool(cfg.model.adapt_norm),
        "mapping": cfg.mapping.method,
        "model": cfg.model.name,
        "seed": cfg.seed,
        "n_test": int(len(test_labels)),
        "chance": 1.0 / len(classes),
        # Reads the test labels, so it is a reference line for the report only: no stage
        # ever uses it (a label-free run cannot know the target's majority class).
        "oracle": test_majority(test_labels, classes),
        # The largest k: means over repeats; per-class scores and confusion of repeat 0.
        "transfer": last["transfer"],
        "baseline": last["baseline"],
        "gain": last["gain"],
        **({"dev": last["dev"], "n_dev": n_dev} if n_dev else {}),
        "curve": curve,
        "bli": bli,
        "history": {
            "source": entries.source_history(cfg, store),
            "runs": {
                f"k={k}/repeat={r['repeat']}": {
                    "finetune": r["finetune_history"],
                    "baseline": r["baseline_history"],
                }
                for k, runs in results.items()
                for r in runs
            },
        },
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    if len(curve) > 1:
        title = f"{cfg.model.name}, {cfg.mapping.method}, {cfg.model.finetune.strategy}"
        plot_learning_curve(curve, run_dir / CURVE_PNG, title)
        ui.info(f"learning curve: {run_dir / CURVE_PNG}")
    _show(metrics)
    return {"accuracy": last["transfer"]["accuracy"], "k": metrics["k"]}


def test_majority(y_true: np.ndarray, class_names: list[str]) -> dict:
    """The test split's majority class and its share: what always predicting it scores."""
    counts = np.bincount(y_true, minlength=len(class_names))
    top = int(counts.argmax())
    return {"majority_class": class_names[top], "majority_share": float(counts[top] / len(y_true))}


def _summarise(k: int, runs: list[dict]) -> dict:
    """Mean and standard deviation over the repeats of one k."""
    row: dict = {"k": k, "repeats": len(runs), "strategy": runs[0]["strategy"]}
    for side in ("transfer", "baseline"):
        summary = dict(runs[0][side])
        for metric in ("accuracy", "macro_f1"):
            values = np.array([r[side][metric] for r in runs])
            summary[metric] = float(values.mean())
            summary[f"{metric}_std"] = float(values.std())
            summary[f"{metric}_runs"] = values.tolist()
        row[side] = summary
    row["gain"] = {m: row["transfer"][m] - row["baseline"][m] for m in ("accuracy", "macro_f1")}
    if "dev" in runs[0]:
        row["dev"] = _dev_summary(runs)
    return row


def _dev_summary(runs: list[dict]) -> dict:
    """Dev-split means over the repeats of one k: transfer, baseline and their gain."""
    dev: dict = {}
    for side in ("transfer", "baseline"):
        dev[side] = {
            m: float(np.mean([r["dev"][side][m] for r in runs])) for m in ("accuracy", "macro_f1")
        }
    dev["gain"] = {m: dev["transfer"][m] - dev["baseline"][m] for m in ("accuracy", "macro_f1")}
    return dev


def _cell(summary: dict, metric: str) -> str:
    text = f"{summary[metric]:.3f}"
    return (
        text + f" ± {summary[f'{metric}_std']:.3f}" if len(summary[f"{metric}_runs"]) > 1 else text
    )


def _show(metrics: dict) -> None:
    table = Table(
        title=f"target test ({metrics['n_test']} documents): {metrics['model']}, "
        f"{metrics['mapping']}, fine-tuning {metrics['strategy']}"
    )
    for column in ("k", "transfer acc", "baseline acc", "gain", "transfer F1", "baseline F1"):
        table.add_column(column, justify="right")
    for row in metrics["curve"]:
        base = row["baseline"]
        base_name = " (majority)" if base["kind"] == "majority" else ""
        table.add_row(
            str(row["k"]),
            _cell(row["transfer"], "accuracy"),
            _cell(base, "accuracy") + base_name,
            f"{row['gain']['accuracy']:+.3f}",
            _cell(row["transfer"], "macro_f1"),
            _cell(base, "macro_f1"),
        )
    ui.console.print(table)
    zero_shot = next((row for row in metrics["curve"] if row["k"] == 0), None)
    if zero_shot is not None:
        oracle = metrics["oracle"]
        ui.info(
            f"oracle reference (reads the test labels; no run uses it): always "
            f"{oracle['majority_class']!r} scores {oracle['majority_share']:.3f} on the test split"
            + (
                f"; zero-shot {zero_shot['transfer']['accuracy']:.3f} is under it"
                if zero_shot["transfer"]["accuracy"] < oracle["majority_share"]
                else ""
            )
        )
    bli = metrics["bli"]
    ui.info(
        f"BLI P@1 nn={bli['nn']['p@1']:.3f} csls={bli['csls']['p@1']:.3f} "
        f"(coverage {bli['coverage']:.2f}); chance accuracy {metrics['chance']:.3f}"
    )
