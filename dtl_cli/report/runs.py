"""Run folders -> the runs DataFrame: one row per run, read from what the run left behind.

Finds run folders (`.hydra/overrides.yaml` or `run.json`) and reads their overrides,
`status.txt`, `metrics.json` and `run.json`; imports neither Hydra nor TensorFlow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

# Columns of the per-run frame that are not overrides or metrics.
RUN_COLUMNS = ("run", "status", "error", "overrides", "host", "git_commit")

DONE, FAILED, RUNNING = "done", "failed", "in progress"


class ReportError(Exception):
    """Bad input to `dtl report`: printed as one `dtl: error:` line, exit status 2."""


def is_run_folder(folder: Path) -> bool:
    """A dtl run folder holds Hydra's `.hydra/overrides.yaml` or dtl's `run.json`."""
    return (folder / ".hydra" / "overrides.yaml").is_file() or (folder / "run.json").is_file()


def find_runs(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Every run folder at or below `paths`, sorted, each once.

    Hidden folders (a store's `.dtl/`, `.git/`) are not searched, nor the inside of a run.
    Raises ReportError naming the path that does not exist, is empty or holds no run.
    """
    if not paths:
        raise ReportError(
            "dtl report needs at least one run or sweep folder, "
            "e.g. `dtl report outputs/multirun/run/<date>/<time>`"
        )
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ReportError(f"{path}: no such folder")
        if not path.is_dir():
            raise ReportError(f"{path} is a file; give the run or sweep folder that holds it")
        if not any(path.iterdir()):
            raise ReportError(f"{path}: empty folder, no dtl runs to report")
        before = len(found)
        for folder, subfolders, _ in os.walk(path):
            here = Path(folder)
            if is_run_folder(here):
                found[here] = None
                subfolders.clear()
            else:
                subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
        if len(found) == before:
            raise ReportError(
                f"no dtl runs under {path} (a run folder holds .hydra/overrides.yaml or "
                "run.json); give a folder below outputs/"
            )
    return sorted(found, key=natural_path_key)


def natural_path_key(path: Path) -> list[Any]:
    """Sort `.../10` after `.../9`: job numbers are folder names."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]


def parse_override(text: str) -> tuple[str, Any] | None:
    """`evaluation.k=20` -> ("evaluation.k", 20); Hydra's own overrides -> None.

    Values are read as YAML scalars (`20` -> 20, `0.5` -> 0.5, `linear` -> "linear"); lists,
    dicts and sweeps stay text, so every value can be grouped by.
    """
    key, sep, value = text.partition("=")
    key = key.lstrip("+~")
    if key.startswith(("hydra.", "hydra/")) or key == "hydra":
        return None
    if not sep:  # `~key`: deleted
        return key, "(deleted)"
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = value
    if parsed is None:
        return key, "null"
    if isinstance(parsed, (bool, int, float, str)):
        return key, parsed
    return key, value


def _overrides(folder: Path, record: Any, row: dict[str, Any]) -> list[str]:
    """The run's overrides: .hydra/overrides.yaml, else run.json's (a corrupt file fails it)."""
    overrides_file = folder / ".hydra" / "overrides.yaml"
    if overrides_file.is_file():
        try:
            loaded = yaml.safe_load(overrides_file.read_text(encoding="utf-8")) or []
            return [str(o) for o in loaded] if isinstance(loaded, list) else []
        except (yaml.YAMLError, UnicodeDecodeError):
            row.update(status=FAILED, error=f"corrupt {overrides_file}")
    elif isinstance(record, dict):
        return [str(o) for o in record.get("overrides") or []]
    return []


def _status(folder: Path, row: dict[str, Any]) -> None:
    """status (and error) from status.txt; a metrics.json without it counts as done."""
    status_file = folder / "status.txt"
    if row["status"] == FAILED:
        return
    if status_file.is_file():
        text = status_file.read_text(encoding="utf-8", errors="replace").strip()
        first = text.splitlines()[0] if text else ""
        if first.startswith("done"):
            row["status"] = DONE
        elif first:
            row["status"] = FAILED
            row["error"] = first.removeprefix("failed:").strip() or first
    elif (folder / "metrics.json").is_file():
        row["status"] = DONE


def _record_fields(record: dict, row: dict[str, Any], metrics: dict[str, float]) -> None:
    """host, commit, per-stage seconds, peak memory and (for `dtl transfer`) BLI of run.json."""
    bli = (record.get("stages") or {}).get("map", {}).get("bli")
    if isinstance(bli, dict):  # `dtl transfer` writes no metrics.json; BLI is in run.json
        metrics.update(flatten(bli, "bli"))
    row["host"] = record.get("host", "")
    commit = record.get("git_commit") or ""
    row["git_commit"] = f"{commit}+dirty" if commit and record.get("git_dirty") else commit
    for stage, info in (record.get("stages") or {}).items():
        if isinstance(info, dict) and isinstance(info.get("seconds"), (int, float)):
            row[f"seconds.{stage}"] = float(info["seconds"])
            if isinstance(info.get("peak_memory_mb"), (int, float)):
                row["peak_memory_mb"] = max(
                    row.get("peak_memory_mb", 0.0), float(info["peak_memory_mb"])
                )


def read_run(folder: Path) -> dict[str, Any]:
    """One run folder -> one flat row: path, status, error, overrides, metrics, timings."""
    row: dict[str, Any] = {"run": str(folder), "status": RUNNING, "error": ""}
    record = _read_json_quietly(folder / "run.json")
    raw_overrides = _overrides(folder, record, row)
    row["overrides"] = " ".join(raw_overrides)
    params = dict(p for p in map(parse_override, raw_overrides) if p is not None)
    _status(folder, row)
    metrics: dict[str, float] = {}
    if isinstance(record, dict):
        _record_fields(record, row, metrics)
    objective = _read_json_quietly(folder / "objective.json")
    if isinstance(objective, dict) and isinstance(objective.get("value"), (int, float)):
        metrics["objective"] = float(objective["value"])  # what a sweeper (Optuna) was given
        row["objective_name"] = str(objective.get("name", ""))
    metrics_file = folder / "metrics.json"
    if metrics_file.is_file() and row["status"] == DONE:
        try:
            loaded = json.loads(metrics_file.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict) or not isinstance(
                (loaded.get("transfer") or {}).get("accuracy"), (int, float)
            ):
                raise ValueError("no transfer.accuracy")
            metrics.update(flatten(loaded))
            if isinstance(loaded.get("curve"), list) and len(loaded["curve"]) > 1:
                row["_curve"] = loaded["curve"]
        except (ValueError, UnicodeDecodeError, AttributeError) as err:
            row.update(status=FAILED, error=f"corrupt metrics.json ({_first_line(err)})")
            row["corrupt"] = str(metrics_file)
    row.update(params)
    row.update({name: value for name, value in metrics.items() if name not in row})
    row["_params"] = list(params)
    return row


CURVE_SIDES = ("transfer", "baseline", "gain")


def expand_curves(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A learning-curve run (several k in metrics.json's `curve`) -> one row per k, with `k`
    and that k's transfer/baseline/gain numbers (means over its repeats); other rows get `k`
    from their metrics.json. Unchanged when no run has a curve."""
    if not any("_curve" in row for row in rows):
        return rows
    out = []
    for row in rows:
        if "_curve" not in row:
            out.append({**row, "k": row.get("k"), "_params": [*row["_params"], "k"]})
            continue
        base = {k: v for k, v in row.items() if not k.startswith(CURVE_SIDES) and k != "_curve"}
        for point in row["_curve"]:
            numbers = flatten({side: point.get(side, {}) for side in CURVE_SIDES})
            out.append({**base, **numbers, "k": point["k"], "_params": [*row["_params"], "k"]})
    return out


def flatten(tree: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested dict, keyed by dotted path; lists (matrices, labels) skipped."""
    flat: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def _read_json_quietly(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _config_value(folder: Path, key: str) -> Any:
    """The value a run used for `key` it did not override: a group's choice from hydra.yaml, or
    the key from the saved config.yaml; None when neither file says."""
    hydra_file = folder / ".hydra" / "hydra.yaml"
    config_file = folder / ".hydra" / "config.yaml"
    try:
        if hydra_file.is_file():
            choices = yaml.safe_load(hydra_file.read_text(encoding="utf-8"))["hydra"]["runtime"][
                "choices"
            ]
            if key in choices:
                return choices[key]
        if config_file.is_file():
            node: Any = yaml.safe_load(config_file.read_text(encoding="utf-8"))
            for part in key.split("."):
                node = node[part]
            if node is None or isinstance(node, (bool, int, float, str)):
                return "null" if node is None else node
            return str(node)
    except (yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError):
        return None
    return None


def collect(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """One row per run under `paths`: run, status, error, overrides (one column per key),
    main metrics and every other numeric leaf of metrics.json, per-stage seconds.

    A key one run overrode and another did not is filled from the other run's saved config, so
    a report over several sweeps compares like with like.
    """
    folders = find_runs(paths)
    rows = [read_run(folder) for folder in folders]
    for folder, row in zip(folders, rows, strict=True):
        row["_folder"] = folder
    corrupt = [row["corrupt"] for row in rows if "corrupt" in row]
    if corrupt and not any(row["status"] == DONE for row in rows):
        more = f" (and {len(corrupt) - 1} more)" if len(corrupt) > 1 else ""
        raise ReportError(
            f"{corrupt[0]} is not valid dtl metrics (unreadable JSON or no transfer.accuracy)"
            f"{more}; re-run `dtl evaluate` for that run or remove the folder"
        )
    rows = expand_curves(rows)
    keys = list(dict.fromkeys(key for row in rows for key in row["_params"]))
    for row in rows:
        for key in keys:
            if key not in row:
                row[key] = _config_value(row["_folder"], key)
    frame = pd.DataFrame(rows)
    frame.attrs["params"] = keys
    hidden = ("_params", "corrupt", "_folder", "_curve")
    return frame.drop(columns=[c for c in hidden if c in frame.columns])
