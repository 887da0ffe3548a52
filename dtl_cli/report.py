"""`dtl report`: run and sweep folders -> one pandas table -> rich table, CSV, Markdown, plots.

It reads only what runs leave behind (`.hydra/overrides.yaml`, `status.txt`, `metrics.json`,
`run.json`), so it works on finished, failed and still-running sweeps alike, and it imports
neither Hydra nor TensorFlow.

    dtl report outputs/multirun/run/2024-05-01/12-00-00-123456
    dtl report outputs/multirun --metric bli.csls.p@1 --group mapping --out results/

Runs are grouped by the keys the sweep varied (`seed` and `repeat` excluded: they are what the
mean and standard deviation are taken over), one row per configuration.
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

# The main metrics: column (a dotted path into metrics.json) -> column title.
METRICS: dict[str, str] = {
    "transfer.accuracy": "accuracy",
    "transfer.macro_f1": "macro-F1",
    "baseline.accuracy": "baseline acc",
    "gain.accuracy": "gain acc",
    "bli.nn.p@1": "BLI nn P@1",
    "bli.csls.p@1": "BLI csls P@1",
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
STAGES = ("pretrain", "map", "finetune", "evaluate")
# Columns of the per-run frame that are not overrides or metrics.
RUN_COLUMNS = ("run", "status", "error", "overrides", "host", "git_commit")

DONE, FAILED, RUNNING = "done", "failed", "in progress"


class ReportError(Exception):
    """Bad input to `dtl report`: printed as one `dtl: error:` line, exit status 2."""


# ---------------------------------------------------------------------------------------------
# Finding and reading runs


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
    return sorted(found, key=_natural_path_key)


def _natural_path_key(path: Path) -> list[Any]:
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


def read_run(folder: Path) -> dict[str, Any]:
    """One run folder -> one flat row: path, status, error, overrides, metrics, timings."""
    row: dict[str, Any] = {"run": str(folder), "status": RUNNING, "error": ""}
    record = _read_json_quietly(folder / "run.json")
    overrides_file = folder / ".hydra" / "overrides.yaml"
    raw_overrides: list[str] = []
    if overrides_file.is_file():
        try:
            loaded = yaml.safe_load(overrides_file.read_text(encoding="utf-8")) or []
            raw_overrides = [str(o) for o in loaded] if isinstance(loaded, list) else []
        except (yaml.YAMLError, UnicodeDecodeError):
            row.update(status=FAILED, error=f"corrupt {overrides_file}")
    elif isinstance(record, dict):
        raw_overrides = [str(o) for o in record.get("overrides") or []]
    row["overrides"] = " ".join(raw_overrides)
    params = dict(p for p in map(parse_override, raw_overrides) if p is not None)

    status_file = folder / "status.txt"
    metrics_file = folder / "metrics.json"
    if row["status"] == FAILED:
        pass
    elif status_file.is_file():
        text = status_file.read_text(encoding="utf-8", errors="replace").strip()
        first = text.splitlines()[0] if text else ""
        if first.startswith("done"):
            row["status"] = DONE
        elif first:
            row["status"] = FAILED
            row["error"] = first.removeprefix("failed:").strip() or first
    elif metrics_file.is_file():
        row["status"] = DONE

    metrics: dict[str, float] = {}
    if isinstance(record, dict):
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
    if metrics_file.is_file() and row["status"] == DONE:
        try:
            loaded = json.loads(metrics_file.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict) or not isinstance(
                (loaded.get("transfer") or {}).get("accuracy"), (int, float)
            ):
                raise ValueError("no transfer.accuracy")
            metrics.update(flatten(loaded))
        except (ValueError, UnicodeDecodeError, AttributeError) as err:
            row.update(status=FAILED, error=f"corrupt metrics.json ({_first_line(err)})")
            row["corrupt"] = str(metrics_file)
    row.update(params)
    row.update({name: value for name, value in metrics.items() if name not in row})
    row["_params"] = list(params)
    return row


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
    corrupt = [row["corrupt"] for row in rows if "corrupt" in row]
    if corrupt and not any(row["status"] == DONE for row in rows):
        more = f" (and {len(corrupt) - 1} more)" if len(corrupt) > 1 else ""
        raise ReportError(
            f"{corrupt[0]} is not valid dtl metrics (unreadable JSON or no transfer.accuracy)"
            f"{more}; re-run `dtl evaluate` for that run or remove the folder"
        )
    keys = list(dict.fromkeys(key for row in rows for key in row["_params"]))
    for folder, row in zip(folders, rows, strict=True):
        for key in keys:
            if key not in row:
                row[key] = _config_value(folder, key)
    frame = pd.DataFrame(rows)
    frame.attrs["params"] = keys
    return frame.drop(columns=[c for c in ("_params", "corrupt") if c in frame.columns])


# ---------------------------------------------------------------------------------------------
# Grouping and aggregation


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


def format_cell(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f}"


def _runs_cell(row: pd.Series) -> str:
    runs, done = int(row["runs"]), int(row["done"])
    return str(runs) if done == runs else f"{done} of {runs}"


def _value_text(value: Any) -> str:
    if _is_number(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _header(metric: str) -> str:
    return METRICS.get(metric, metric)


# ---------------------------------------------------------------------------------------------
# Output: rich table, CSV, Markdown, plots


def table_rows(summary: pd.DataFrame, group: list[str], metrics: list[str]) -> list[list[str]]:
    """The table as text cells, one list per configuration (no highlighting)."""
    rows = []
    for _, row in summary.iterrows():
        cells = [_value_text(row[key]) for key in group] + [_runs_cell(row)]
        cells += [format_cell(row[m], row[f"{m}.std"]) for m in metrics]
        rows.append(cells)
    return rows


def render(
    console,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    group: list[str],
    metrics: list[str],
    title: str,
    timings: bool,
) -> None:
    """The summary table (best per metric column in bold green), then fixed overrides, failed
    and unfinished runs, and with `timings` the per-run stage seconds."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for key in group:
        table.add_column(key, style="cyan")
    table.add_column("runs", justify="right")
    for metric in metrics:
        table.add_column(_header(metric), justify="right")
    best = {m: best_rows(summary, m) for m in metrics}
    for i, cells in enumerate(table_rows(summary, group, metrics)):
        styled = [escape(c) for c in cells[: len(group) + 1]]
        for metric, cell in zip(metrics, cells[len(group) + 1 :], strict=True):
            bold = i in best[metric] and len(summary) > 1
            styled.append(f"[bold green]{escape(cell)}[/bold green]" if bold else escape(cell))
        table.add_row(*styled)
    console.print(table)
    fixed = fixed_overrides(runs)
    if fixed:
        same = " ".join(f"{k}={_value_text(v)}" for k, v in fixed.items())
        console.print(escape(f"  same in every run: {same}"), soft_wrap=True)
    std_note = "mean ± std over seeds" if "seed" in runs.columns else "mean ± std over runs"
    console.print(f"  [dim]{escape(std_note)}; best per column in bold green[/dim]")
    for status, colour in ((FAILED, "red"), (RUNNING, "yellow")):
        part = runs[runs["status"] == status]
        if len(part):
            console.print(f"[bold {colour}]{status} ({len(part)}):[/bold {colour}]")
            for _, row in part.iterrows():
                line = f"  {row['run']}"
                if row["overrides"]:
                    line += f" [{row['overrides']}]"
                if row["error"]:
                    line += f": {row['error']}"
                console.print(escape(line), soft_wrap=True)
    if timings:
        console.print(timings_table(runs))


def timing_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: host, commit, overrides, seconds per stage, total, peak memory."""
    columns = ["run", "status", "host", "git_commit", "overrides"]
    stages = [f"seconds.{s}" for s in STAGES if f"seconds.{s}" in runs.columns]
    frame = runs.reindex(columns=columns + stages + ["peak_memory_mb"]).copy()
    frame["seconds.total"] = runs.reindex(columns=stages).sum(axis=1, min_count=1)
    return frame


def timings_table(runs: pd.DataFrame):
    from rich.table import Table

    frame = timing_frame(runs)
    stages = [c for c in frame.columns if c.startswith("seconds.")]
    table = Table(title="timings (seconds per stage, from run.json)", title_justify="left")
    for name in ("run", "host", "commit", "overrides"):
        table.add_column(name, overflow="fold")
    for stage in stages:
        table.add_column(stage.removeprefix("seconds."), justify="right")
    table.add_column("peak MiB", justify="right")
    for _, row in frame.iterrows():
        cells = [
            _short_run(row["run"]),
            _text(row["host"]),
            _short_commit(row["git_commit"]),
            _text(row["overrides"]),
        ]
        cells += [_number(row[s], 1) for s in stages] + [_number(row["peak_memory_mb"], 0)]
        table.add_row(*cells)
    return table


def _short_run(run: str) -> str:
    parts = Path(run).parts
    return str(Path(*parts[-3:])) if len(parts) > 3 else run


def _short_commit(value: Any) -> str:
    """`<40 hex>+dirty` -> `<12 hex>+dirty` (uncommitted changes when the run started)."""
    commit, _, dirty = _text(value).partition("+")
    return commit[:12] + (f"+{dirty}" if dirty else "")


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _number(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def write_markdown(
    path: Path,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    group: list[str],
    metrics: list[str],
    title: str,
    timings: bool,
) -> None:
    """A GitHub-flavoured Markdown report: the table (best in bold), failed and unfinished runs."""
    headers = [*group, "runs", *(_header(m) for m in metrics)]
    best = {m: best_rows(summary, m) for m in metrics}
    body = []
    for i, cells in enumerate(table_rows(summary, group, metrics)):
        for j, metric in enumerate(metrics):
            at = len(group) + 1 + j
            if i in best[metric] and len(summary) > 1:
                cells[at] = f"**{cells[at]}**"
        body.append(cells)
    align = ["---"] * (len(group) + 1) + ["---:"] * len(metrics)
    align[len(group)] = "---:"
    lines = [f"# {title}", "", _md_row(headers), _md_row(align), *map(_md_row, body), ""]
    fixed = fixed_overrides(runs)
    if fixed:
        same = ", ".join(f"`{k}={_value_text(v)}`" for k, v in fixed.items())
        lines += [f"Same in every run: {same}", ""]
    lines += ["Mean ± standard deviation over seeds; best per column in bold.", ""]
    for status in (FAILED, RUNNING):
        part = runs[runs["status"] == status]
        if len(part):
            lines += [f"## {status.capitalize()} runs ({len(part)})", ""]
            for _, row in part.iterrows():
                line = f"- `{row['run']}`"
                if row["overrides"]:
                    line += f" (`{row['overrides']}`)"
                if row["error"]:
                    line += f": {_md_escape(row['error'])}"
                lines.append(line)
            lines.append("")
    if timings:
        frame = timing_frame(runs)
        stages = [c for c in frame.columns if c.startswith("seconds.")]
        lines += ["## Timings (seconds per stage)", ""]
        lines.append(
            _md_row(["run", "host", "commit", *(s.removeprefix("seconds.") for s in stages)])
        )
        lines.append(_md_row(["---"] * 3 + ["---:"] * len(stages)))
        for _, row in frame.iterrows():
            cells = [_short_run(row["run"]), _text(row["host"]), _short_commit(row["git_commit"])]
            lines.append(_md_row(cells + [_number(row[s], 1) for s in stages]))
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(_md_escape(c) for c in cells) + " |"


def write_csv(path: Path, summary: pd.DataFrame) -> None:
    summary.to_csv(path, index=False)


def plot(out: Path, summary: pd.DataFrame, group: list[str], metric: str, title: str) -> list[Path]:
    """PNG plots of `metric`: against each numeric swept key, one line per combination of the
    other keys, error bars for std; a bar chart when no swept key is numeric. Returns paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = summary[summary[metric].notna()]
    if data.empty:
        return []
    numeric = [key for key in group if is_numeric_key(data[key])]
    written = []
    stem = _file_part(metric)
    for x in numeric:
        others = [key for key in group if key != x]
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        parts = data.groupby(others, sort=False) if others else [((), data)]
        for values, part in parts:
            values = values if isinstance(values, tuple) else (values,)
            part = part.sort_values(x)
            label = ", ".join(f"{k}={_value_text(v)}" for k, v in zip(others, values, strict=True))
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
            ax.set_xticks(ticks, [_value_text(t) for t in ticks])
        ax.set_xlabel(x)
        ax.set_ylabel(_header(metric))
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=8)
        path = out / f"{stem}_vs_{_file_part(x)}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    if not numeric:
        labels = [
            ", ".join(f"{k}={_value_text(row[k])}" for k in group) or "all runs"
            for _, row in data.iterrows()
        ]
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(labels) + 2), 4.2))
        ax.bar(range(len(labels)), data[metric], yerr=data[f"{metric}.std"].fillna(0.0), capsize=4)
        ax.set_xticks(range(len(labels)), labels, rotation=20 if len(labels) > 3 else 0)
        ax.set_ylabel(_header(metric))
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
        path = out / f"{stem}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def _file_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("@", "at"))


# ---------------------------------------------------------------------------------------------
# The `dtl report` command


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage + error
        raise ReportError(f"{message} (see `dtl report --help`)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dtl report",
        description="Summarise dtl runs and sweeps: one row per configuration, mean ± std over "
        "seeds, best per metric in bold; writes report.csv, report.md, runs.csv and PNG plots.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="run or sweep folders (searched)")
    p.add_argument(
        "--metric",
        default=None,
        help=f"metric to plot and put first (default {DEFAULT_METRIC}; also "
        f"{', '.join(METRICS)}, or any numeric key of metrics.json)",
    )
    p.add_argument(
        "--group",
        default=None,
        help="comma-separated keys to group by (default: every swept key except seed)",
    )
    p.add_argument("--out", default=None, help="folder for the files (default: the given folder)")
    p.add_argument("--timings", action="store_true", help="per-run stage seconds from run.json")
    return p


def output_folder(paths: Sequence[str], out: str | None) -> Path:
    if out:
        folder = Path(out)
    elif len(paths) == 1:
        folder = Path(paths[0])
    else:
        folder = Path(os.path.commonpath([os.path.abspath(p) for p in paths]))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ReportError(f"cannot create the output folder {folder}: {err.strerror}") from err
    if not os.access(folder, os.W_OK):
        raise ReportError(f"cannot write into {folder}; choose another with --out")
    return folder


def report(
    paths: Sequence[str],
    metric: str | None = None,
    group: list[str] | None = None,
    out: str | None = None,
    timings: bool = False,
    console=None,
) -> dict[str, Any]:
    """Collect, summarise, print and write; returns the frames and the files written.

    Without `metric`, transfer accuracy, or the first main metric the runs have (`dtl transfer`
    sweeps have BLI only). Main metrics no run has are left out of the table.
    """
    runs = collect(paths)
    note = ""
    if metric is None:
        metric = DEFAULT_METRIC
        fallback = next((m for m in METRICS if _has_values(runs, m)), metric)
        if fallback != metric:
            note = f"no {metric} in these runs (no evaluate stage): showing {fallback}"
            metric = fallback
    metric = resolve_metric(metric, runs)
    if group is None:
        group = swept_keys(runs)
    else:
        unknown = [key for key in group if key not in runs.columns]
        if unknown:
            raise ReportError(
                f"--group {unknown[0]!r} is not a key any run overrode; "
                f"choose from {', '.join(runs.attrs['params']) or '(no overrides)'}"
            )
    metrics = [metric] + [m for m in METRICS if m != metric and _has_values(runs, m)]
    summary = summarize(runs, group, metrics)
    folder = output_folder(paths, out)
    counts = runs["status"].value_counts()
    title = f"dtl report: {len(runs)} run(s), {len(summary)} configuration(s) — " + ", ".join(
        f"{counts[s]} {s}" for s in (DONE, FAILED, RUNNING) if s in counts
    )
    if console is None:
        from rich.console import Console

        console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    render(console, runs, summary, group, metrics, title, timings)
    if note:
        console.print(f"  [dim]{note}[/dim]")
    files = [folder / "report.csv", folder / "runs.csv", folder / "report.md"]
    write_csv(files[0], summary)
    columns = [c for c in RUN_COLUMNS if c in runs.columns]
    rest = [c for c in runs.columns if c not in columns]
    runs[columns + rest].to_csv(files[1], index=False)
    write_markdown(files[2], runs, summary, group, metrics, title, timings)
    files += plot(folder, summary, group, metric, title)
    console.print(f"  wrote {', '.join(str(f) for f in files)}", soft_wrap=True)
    return {"runs": runs, "summary": summary, "group": group, "files": files}


def _has_values(runs: pd.DataFrame, metric: str) -> bool:
    return metric in runs.columns and bool(runs[metric].notna().any())


def main(argv: list[str] | None = None) -> int:
    """`dtl report PATH... [--metric M] [--group KEY,...] [--out DIR] [--timings]`."""
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else argv)
        group = None
        if args.group is not None:
            group = [key.strip() for key in args.group.split(",") if key.strip()]
        report(args.paths, args.metric, group, args.out, args.timings)
    except ReportError as err:
        print(f"dtl: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return int(done.code or 0)
    return 0
