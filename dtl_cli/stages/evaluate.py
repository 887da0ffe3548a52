"""Stage 4, evaluate: score the transferred classifiers and the target-only baselines on the
target test split, for every (k, repeat); write `metrics.json` (and, for several k, a
learning-curve PNG) into the run folder and print a table.

Nothing is stored: evaluation is quick, and its result belongs to the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
from omegaconf import DictConfig
from rich.table import Table

from dtl_cli import ui
from dtl_cli.metrics import classification_metrics
from dtl_cli.models.training import predict_classes
from dtl_cli.plots import plot_learning_curve
from dtl_cli.stages.common import load_pretrained, shots
from dtl_cli.stages.keys import baseline_key, finetune_key, map_key, pretrain_key
from dtl_cli.store import Store

STAGE = "evaluate"
CURVE_PNG = "learning_curve.png"


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return False


def _predict(entry: Path, ids: np.ndarray) -> np.ndarray:
    model = keras.models.load_model(entry / "classifier.keras", compile=False)
    return predict_classes(model, ids)


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    pre = load_pretrained(store.path("pretrain", pretrain_key(cfg)))
    ids, y_true = pre.ids["target_test"], pre.labels["target_test"]
    results: dict[int, list[dict]] = {}
    for k, repeat in shots(cfg):
        ft_entry = store.path("finetune", finetune_key(cfg, k, repeat))
        ft_info = json.loads((ft_entry / "finetune.json").read_text())
        transfer = classification_metrics(y_true, _predict(ft_entry, ids), pre.class_names)
        base_entry = store.path("baseline", baseline_key(cfg, k, repeat))
        base_info = json.loads((base_entry / "baseline.json").read_text())
        if base_info["kind"] == "majority":
            base_pred = np.full_like(y_true, base_info["class"])
        else:
            base_pred = _predict(base_entry, ids)
        baseline = classification_metrics(y_true, base_pred, pre.class_names)
        results.setdefault(ft_info["k"], []).append(
            {
                "repeat": repeat,
                "strategy": ft_info["strategy"],
                "transfer": transfer,
                "baseline": {"kind": base_info["kind"], **baseline},
                "finetune_history": ft_info["history"],
                "baseline_history": base_info.get("history", {}),
            }
        )
    curve = [_summarise(k, runs) for k, runs in sorted(results.items())]
    last = curve[-1]
    bli = json.loads((store.path("map", map_key(cfg)) / "bli.json").read_text())
    source_summary = json.loads((pre.entry / "summary.json").read_text())
    metrics = {
        "k": last["k"] if len(curve) == 1 else [row["k"] for row in curve],
        "repeats": cfg.evaluation.repeats,
        "strategy": cfg.model.finetune.strategy,
        "adapt_norm": bool(cfg.model.adapt_norm),
        "mapping": cfg.mapping.method,
        "model": cfg.model.name,
        "seed": cfg.seed,
        "n_test": int(len(y_true)),
        "chance": 1.0 / len(pre.class_names),
        # The largest k: means over repeats; per-class scores and confusion of repeat 0.
        "transfer": last["transfer"],
        "baseline": last["baseline"],
        "gain": last["gain"],
        "curve": curve,
        "bli": bli,
        "history": {
            "source": source_summary.get("source_history", {}),
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
    return row


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
    bli = metrics["bli"]
    ui.info(
        f"BLI P@1 nn={bli['nn']['p@1']:.3f} csls={bli['csls']['p@1']:.3f} "
        f"(coverage {bli['coverage']:.2f}); chance accuracy {metrics['chance']:.3f}"
    )
