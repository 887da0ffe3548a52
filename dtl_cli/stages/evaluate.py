"""Stage 4, evaluate: score the transferred classifier and the target-only baseline on the
target test split; write `metrics.json` into the run folder and print a table.

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
from dtl_cli.stages.common import load_pretrained
from dtl_cli.stages.keys import baseline_key, finetune_key, map_key, pretrain_key
from dtl_cli.store import Store

STAGE = "evaluate"


def is_cached(cfg: DictConfig, store: Store) -> bool:
    return False


def run(cfg: DictConfig, store: Store, run_dir: Path) -> dict:
    pre = load_pretrained(store.path("pretrain", pretrain_key(cfg)))
    ids, y_true = pre.ids["target_test"], pre.labels["target_test"]
    transfer_model = keras.models.load_model(
        store.path("finetune", finetune_key(cfg)) / "classifier.keras", compile=False
    )
    transfer = classification_metrics(y_true, predict_classes(transfer_model, ids), pre.class_names)
    base_entry = store.path("baseline", baseline_key(cfg))
    base_info = json.loads((base_entry / "baseline.json").read_text())
    if base_info["kind"] == "majority":
        base_pred = np.full_like(y_true, base_info["class"])
    else:
        base_model = keras.models.load_model(base_entry / "classifier.keras", compile=False)
        base_pred = predict_classes(base_model, ids)
    baseline = classification_metrics(y_true, base_pred, pre.class_names)
    bli = json.loads((store.path("map", map_key(cfg)) / "bli.json").read_text())
    metrics = {
        "k": base_info["k"],
        "mapping": cfg.mapping.method,
        "model": cfg.model.name,
        "seed": cfg.seed,
        "n_test": int(len(y_true)),
        "chance": 1.0 / len(pre.class_names),
        "transfer": transfer,
        "baseline": {"kind": base_info["kind"], **baseline},
        "gain": {
            "accuracy": transfer["accuracy"] - baseline["accuracy"],
            "macro_f1": transfer["macro_f1"] - baseline["macro_f1"],
        },
        "bli": bli,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    _show(metrics)
    return {"accuracy": transfer["accuracy"], "baseline_accuracy": baseline["accuracy"]}


def _show(metrics: dict) -> None:
    k = metrics["k"]
    table = Table(title=f"target test ({metrics['n_test']} documents), k={k}")
    table.add_column("model")
    table.add_column("accuracy", justify="right")
    table.add_column("macro-F1", justify="right")
    base_name = "majority class" if metrics["baseline"]["kind"] == "majority" else "target only"
    rows = [
        (f"transfer ({metrics['mapping']})", metrics["transfer"]),
        (f"baseline ({base_name})", metrics["baseline"]),
    ]
    for name, m in rows:
        table.add_row(name, f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}")
    gain = metrics["gain"]
    table.add_row("gain", f"{gain['accuracy']:+.3f}", f"{gain['macro_f1']:+.3f}", style="bold")
    ui.console.print(table)
    bli = metrics["bli"]
    ui.info(
        f"BLI P@1 nn={bli['nn']['p@1']:.3f} csls={bli['csls']['p@1']:.3f} "
        f"(coverage {bli['coverage']:.2f}); chance accuracy {metrics['chance']:.3f}"
    )
    ui.log.info("metrics: %s", json.dumps({k: metrics[k] for k in ("gain",)}))
