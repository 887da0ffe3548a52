"""The `dtl report` command: argparse, then collect, summarise, print and write the files."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dtl_cli.report.plots import plot, plot_learning_curves, plot_trials
from dtl_cli.report.render import Shown, render, write_csv, write_markdown
from dtl_cli.report.runs import DONE, FAILED, RUN_COLUMNS, RUNNING, ReportError, collect
from dtl_cli.report.summarise import (
    DEFAULT_METRIC,
    METRICS,
    resolve_metric,
    summarize,
    swept_keys,
)


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
    search = _objective_name(runs)
    metric, note = _pick_metric(runs, metric, search)
    searching = bool(search) and metric == "objective"
    group = _pick_group(runs, group, searching)
    metrics = [metric] + [m for m in METRICS if m != metric and _has_values(runs, m)]
    summary = summarize(runs, group, metrics)
    folder = output_folder(paths, out)
    title = _title(runs, summary, group)
    if console is None:
        from rich.console import Console

        console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    shown = Shown(runs, summary, group, metrics, title, timings)
    render(console, shown)
    if note:
        console.print(f"  [dim]{note}[/dim]")
    if searching:
        _print_best_trial(console, runs)
    files = [folder / "report.csv", folder / "runs.csv", folder / "report.md"]
    write_csv(files[0], summary)
    columns = [c for c in RUN_COLUMNS if c in runs.columns]
    rest = [c for c in runs.columns if c not in columns]
    runs[columns + rest].to_csv(files[1], index=False)
    write_markdown(files[2], shown)
    if searching:
        files += plot_trials(folder, runs, title)
    else:
        files += plot(folder, summary, group, metric, title)
        files += plot_learning_curves(folder, summary, group, metric, title)
    console.print(f"  wrote {', '.join(str(f) for f in files)}", soft_wrap=True)
    return {"runs": runs, "summary": summary, "group": group, "files": files}


def _pick_metric(runs: pd.DataFrame, metric: str | None, search: str | None) -> tuple[str, str]:
    """(the metric to show, a note saying why when it was not asked for, else "")."""
    note = ""
    if metric is None and search:
        metric = "objective"
        note = f"hyperparameter search: objective {search} (higher is better; best in bold)"
    if metric is None:
        metric = DEFAULT_METRIC
        fallback = next((m for m in METRICS if _has_values(runs, m)), metric)
        if fallback != metric:
            note = f"no {metric} in these runs (no evaluate stage): showing {fallback}"
            metric = fallback
    return resolve_metric(metric, runs), note


def _pick_group(runs: pd.DataFrame, group: list[str] | None, searching: bool) -> list[str]:
    """The keys a table row stands for: those asked for, else the swept ones (a search's
    trial first); k added for learning curves."""
    if group is None:
        group = swept_keys(runs)
        if searching:  # one row per trial, numbered as Hydra did
            runs["trial"] = [_trial_number(run) for run in runs["run"]]
            group = ["trial", *group]
    else:
        unknown = [key for key in group if key not in runs.columns]
        if unknown:
            raise ReportError(
                f"--group {unknown[0]!r} is not a key any run overrode; "
                f"choose from {', '.join(runs.attrs['params']) or '(no overrides)'}"
            )
    if "k" in runs.attrs["params"] and "k" not in group and runs["k"].nunique() > 1:
        group = [*group, "k"]  # learning curves: a row per configuration and k
    return group


def _title(runs: pd.DataFrame, summary: pd.DataFrame, group: list[str]) -> str:
    """ "dtl report: N run(s), M configuration(s) [x K k] — counts by status"."""
    # A learning-curve run has a row per k: count folders, not rows.
    counts = runs.drop_duplicates("run")["status"].value_counts()
    shape = f"{len(summary)} configuration(s)"
    if "k" in group:
        configs = summary.drop_duplicates([g for g in group if g != "k"]) if group[1:] else [0]
        shape = f"{len(configs)} configuration(s) x {summary['k'].nunique()} k"
    return f"dtl report: {runs['run'].nunique()} run(s), {shape} — " + ", ".join(
        f"{counts[s]} {s}" for s in (DONE, FAILED, RUNNING) if s in counts
    )


def _objective_name(runs: pd.DataFrame) -> str | None:
    """The `evaluation.objective` of a search's trials (objective.json), or None."""
    if "objective" not in runs.columns or not runs["objective"].notna().any():
        return None
    names = runs["objective_name"].dropna().unique()
    return ", ".join(map(str, names))


def _trial_number(run: str) -> int | str:
    name = Path(run).name
    return int(name) if name.isdigit() else name


def _print_best_trial(console, runs: pd.DataFrame) -> None:
    from rich.markup import escape

    done = runs[runs["objective"].notna()]
    best = done.loc[done["objective"].idxmax()]
    console.print(
        escape(f"  best trial: {best['run']} objective={best['objective']:.4f} ")
        + escape(f"[{best['overrides']}]"),
        soft_wrap=True,
    )


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
