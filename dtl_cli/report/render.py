"""Writing a summary out: the rich table on the console, report.md and report.csv."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dtl_cli.report.runs import FAILED, RUNNING
from dtl_cli.report.summarise import best_rows, fixed_overrides, metric_title, value_text
from dtl_cli.verbs import STAGES  # in order: the timing columns `seconds.<stage>` of run.json


def format_cell(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f}"


def _runs_cell(row: pd.Series) -> str:
    runs, done = int(row["runs"]), int(row["done"])
    return str(runs) if done == runs else f"{done} of {runs}"


def table_rows(summary: pd.DataFrame, group: list[str], metrics: list[str]) -> list[list[str]]:
    """The table as text cells, one list per configuration (no highlighting)."""
    rows = []
    for _, row in summary.iterrows():
        cells = [value_text(row[key]) for key in group] + [_runs_cell(row)]
        cells += [format_cell(row[m], row[f"{m}.std"]) for m in metrics]
        rows.append(cells)
    return rows


def marked_rows(summary: pd.DataFrame, group: list[str], metrics: list[str], plain, best):
    """``table_rows`` with every cell passed through ``plain``, or through ``best`` where the
    row is the best of its metric column (with more than one row)."""
    tops = {m: best_rows(summary, m) for m in metrics}
    rows = []
    for i, cells in enumerate(table_rows(summary, group, metrics)):
        marked = [plain(c) for c in cells[: len(group) + 1]]
        for metric, cell in zip(metrics, cells[len(group) + 1 :], strict=True):
            top = i in tops[metric] and len(summary) > 1
            marked.append(best(cell) if top else plain(cell))
        rows.append(marked)
    return rows


@dataclass
class Shown:
    """What a report shows: the runs (one row per run and k), their summary (one row per
    configuration), the keys a row stands for, the metric columns, the title, and whether
    to add the per-run stage seconds."""

    runs: pd.DataFrame
    summary: pd.DataFrame
    group: list[str]
    metrics: list[str]
    title: str
    timings: bool


def render(console, shown: Shown) -> None:
    """The summary table (best per metric column in bold green), then fixed overrides, failed
    and unfinished runs, and with `timings` the per-run stage seconds."""
    runs, summary, group, metrics = shown.runs, shown.summary, shown.group, shown.metrics
    title, timings = shown.title, shown.timings
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for key in group:
        table.add_column(key, style="cyan")
    table.add_column("runs", justify="right")
    for metric in metrics:
        table.add_column(metric_title(metric), justify="right")
    green = lambda cell: f"[bold green]{escape(cell)}[/bold green]"  # noqa: E731
    for cells in marked_rows(summary, group, metrics, escape, green):
        table.add_row(*cells)
    console.print(table)
    fixed = fixed_overrides(runs)
    if fixed:
        same = " ".join(f"{k}={value_text(v)}" for k, v in fixed.items())
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


def write_markdown(path: Path, shown: Shown) -> None:
    """A GitHub-flavoured Markdown report: the table (best in bold), failed and unfinished runs."""
    runs, summary, group, metrics = shown.runs, shown.summary, shown.group, shown.metrics
    title, timings = shown.title, shown.timings
    headers = [*group, "runs", *(metric_title(m) for m in metrics)]
    body = marked_rows(summary, group, metrics, str, lambda cell: f"**{cell}**")
    align = ["---"] * (len(group) + 1) + ["---:"] * len(metrics)
    align[len(group)] = "---:"
    lines = [f"# {title}", "", _md_row(headers), _md_row(align), *map(_md_row, body), ""]
    fixed = fixed_overrides(runs)
    if fixed:
        same = ", ".join(f"`{k}={value_text(v)}`" for k, v in fixed.items())
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
