"""MLflow tracking of finished runs (`logger=mlflow`, the `mlflow` extra).

After each job (a Hydra callback, so also in a sweep's worker processes) the run folder is
read back and sent to MLflow as one run: the flattened config as params, the final numbers of
`metrics.json` (or `run.json`'s BLI for verbs without evaluate), the learning curve as
metrics with step = k, one nested run per trained model with its per-epoch history, and the
run's files as artefacts. Reading the folder, not hooking into training, means cached store
entries are logged too. Imports mlflow only when a run asks for it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

ARTEFACTS = ("metrics.json", "run.json", "status.txt", "run.log")
_BAD_NAME = re.compile(r"[^\w\-./ ]")


def flatten(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, leaf) pairs of nested dicts; lists are leaves."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from flatten(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], tree


def metric_name(key: str) -> str:
    """MLflow's allowed characters: `bli.nn.p@1` -> `bli.nn.p_at_1`."""
    return _BAD_NAME.sub("_", key.replace("@", "_at_"))


def final_metrics(metrics: dict) -> dict[str, float]:
    """The numbers of metrics.json at the largest k, without the curve and histories."""
    skip = ("curve", "history", "k", "repeats", "seed")
    flat = {}
    for key, value in flatten({k: v for k, v in metrics.items() if k not in skip}):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key.endswith("_runs") or ".confusion_matrix" in key:
            continue
        flat[metric_name(key)] = float(value)
    return flat


def curve_metrics(metrics: dict) -> list[tuple[str, float, int]]:
    """(name, value, step = k) for accuracy and macro-F1 of transfer, baseline and gain."""
    rows = []
    for row in metrics.get("curve", []):
        for side in ("transfer", "baseline", "gain"):
            for metric in ("accuracy", "macro_f1"):
                value = row.get(side, {}).get(metric)
                if isinstance(value, int | float):
                    rows.append((f"curve.{side}.{metric}", float(value), int(row["k"])))
    return rows


def histories(metrics: dict) -> dict[str, dict[str, list[float]]]:
    """Model name -> per-epoch history (metric -> one value per epoch)."""
    history = metrics.get("history", {})
    found = {"source classifier": history.get("source", {})}
    for name, runs in history.get("runs", {}).items():
        for kind in ("finetune", "baseline"):
            found[f"{kind} {name}"] = runs.get(kind, {})
    return {name: h for name, h in found.items() if h}


def stage_metrics(record: dict) -> dict[str, float]:
    """From run.json: BLI of the map stage and the seconds of each stage."""
    flat = {}
    for stage, result in record.get("stages", {}).items():
        if isinstance(result.get("seconds"), int | float):
            flat[f"seconds.{stage}"] = float(result["seconds"])
        for key, value in flatten(result.get("bli", {}), "bli."):
            if isinstance(value, int | float) and not isinstance(value, bool):
                flat[metric_name(key)] = float(value)
    return flat


def tracking_uri(configured: str | None, output: str) -> str:
    """The configured URI, or a file store `<paths.output>/mlruns` (an absolute file: URI).

    MLflow 3.7+ would default to a SQLite database, which mlflow-skinny cannot open.
    """
    if configured:
        return configured if "://" in configured else Path(configured).resolve().as_uri()
    return (Path(output) / "mlruns").resolve().as_uri()


def log_run(run_dir: Path, params: dict[str, Any], uri: str, experiment: str) -> str:
    """Send the finished run folder `run_dir` to MLflow; returns the MLflow run id."""
    if uri.startswith("file:"):
        # MLflow keeps its file store in maintenance mode and refuses it unless asked.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow

    metrics_file, record_file = run_dir / "metrics.json", run_dir / "run.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    record = json.loads(record_file.read_text()) if record_file.is_file() else {}
    status_file = run_dir / "status.txt"
    status = status_file.read_text().strip() if status_file.is_file() else "unknown"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment_id = _experiment_id(client, experiment)
    tags = {
        "dtl.run_dir": str(run_dir.resolve()),
        "dtl.verb": str(record.get("verb", "")),
        "dtl.status": status,
        "mlflow.source.git.commit": str(record.get("git_commit") or ""),
    }
    parent = client.create_run(experiment_id, run_name=_run_name(run_dir, record), tags=tags)
    run_id = parent.info.run_id
    _log_params(client, run_id, params)
    numbers = {**stage_metrics(record), **final_metrics(metrics)}
    _log_metrics(client, run_id, [(n, v, 0) for n, v in numbers.items()] + curve_metrics(metrics))
    for model, history in histories(metrics).items():
        _log_nested(client, experiment_id, run_id, model, history)
    for path in [*(run_dir / n for n in ARTEFACTS), *sorted(run_dir.glob("*.png"))]:
        if path.is_file():
            client.log_artifact(run_id, str(path))
    if (run_dir / ".hydra").is_dir():
        client.log_artifacts(run_id, str(run_dir / ".hydra"), artifact_path="hydra")
    client.set_terminated(run_id, "FINISHED" if status == "done" else "FAILED")
    return run_id


def _experiment_id(client, name: str) -> str:
    """The experiment's id, created if needed; parallel jobs may race to create it."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:  # another job of the sweep created it first
        return client.get_experiment_by_name(name).experiment_id


def _run_name(run_dir: Path, record: dict) -> str:
    return f"{record.get('verb', 'dtl')} {run_dir.parent.name}/{run_dir.name}"


def _log_params(client, run_id: str, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    items = [Param(key, str(value)[:6000]) for key, value in params.items()]
    for start in range(0, len(items), 100):  # MLflow's batch limit
        client.log_batch(run_id, params=items[start : start + 100])


def _log_nested(client, experiment_id: str, parent_id: str, model: str, history: dict) -> None:
    child = client.create_run(
        experiment_id, run_name=model, tags={"mlflow.parentRunId": parent_id}
    ).info.run_id
    rows = [
        (metric_name(name), float(value), epoch)
        for name, values in history.items()
        for epoch, value in enumerate(values)
    ]
    _log_metrics(client, child, rows)
    client.set_terminated(child, "FINISHED")


def _log_metrics(client, run_id: str, rows: list[tuple[str, float, int]]) -> None:
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(name, value, now, step) for name, value, step in rows]
    for start in range(0, len(items), 1000):  # MLflow's batch limit
        client.log_batch(run_id, metrics=items[start : start + 1000])


class Tracking(Callback):
    """Logs each finished job to MLflow when its config has `logger.mlflow: true`.

    Registered in configs/config.yaml under `hydra.callbacks`; a no-op otherwise.
    """

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        import importlib.util

        if _wanted(config) and importlib.util.find_spec("mlflow") is None:
            from dtl_cli import ui

            ui.error(
                "logger=mlflow needs MLflow: pip install 'dtl[mlflow]' (or drop logger=mlflow)"
            )
            raise SystemExit(2)

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs) -> None:
        logger = config.get("logger")
        hparams = bool(logger and logger.get("tensorboard_hparams"))
        if not _wanted(config) and not hparams:
            return
        run_dir = Path(str(config.hydra.runtime.output_dir))
        job = OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])
        params = dict(flatten(OmegaConf.to_container(job, resolve=True)))
        if hparams:
            _log_hparams(run_dir, params)
        if not _wanted(config):
            return
        uri = tracking_uri(logger.get("tracking_uri"), str(config.paths.output))
        from dtl_cli import ui

        try:
            run_id = log_run(run_dir, params, uri, str(logger.get("experiment", "dtl")))
        except Exception as err:  # MLflow's or the network's: the run itself is done
            reason = " ".join(f"{type(err).__name__}: {err}".split())[:200]
            ui.warning(
                f"logger=mlflow: the run was not sent to {uri} ({reason}); its folder "
                f"{run_dir} keeps everything (check logger.tracking_uri)"
            )
            return
        ui.info(f"MLflow run {run_id} in {uri}")


def _log_hparams(run_dir: Path, params: dict[str, Any]) -> None:
    from dtl_cli.hparams import log_hparams

    metrics_file, record_file = run_dir / "metrics.json", run_dir / "run.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    record = json.loads(record_file.read_text()) if record_file.is_file() else {}
    log_hparams(run_dir, params, {**stage_metrics(record), **final_metrics(metrics)})


def _wanted(config: DictConfig) -> bool:
    logger = config.get("logger")
    return bool(logger and logger.get("mlflow"))
