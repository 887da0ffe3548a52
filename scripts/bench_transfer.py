"""Benchmark: the learning curve of transfer against target-only on a real task, across seeds.

    python scripts/bench_transfer.py --data ../shared/data/imdb-waimai [--seeds 0,1,2] \
        [--k 0,10,50,200,1000] [--repeats 3] [--out DIR] [overrides...]

Runs one `dtl run -m seed=... evaluation.k=...` sweep through the real `dtl` command (one
job per seed and k, `evaluation.repeats` k-shot samples each; the jobs share the store, so
each seed pretrains and maps once), then prints one table per k: accuracy, macro-F1 and gain
as the mean over seeds ± the standard deviation across seeds (of each seed's mean over its
repeats), beside the target-only baseline; at k = 0 also the test split's majority share, an
oracle reference line (it reads test labels; no run uses it). The same table goes to
`<out>/bench_transfer.md`; `dtl report <out>` groups the jobs the same way.

The data folder holds `<src>_train.*`, `<tgt>_train.*`, `<tgt>_test.*` (csv, tsv, jsonl,
optionally .gz), optional `<src>_unlabelled.*` / `<tgt>_unlabelled.*` text, and the MUSE
dictionaries `<src>-<tgt>.0-5000.txt` (seed) and `<src>-<tgt>.5000-6500.txt` (test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

DTL = str(Path(sys.executable).with_name("dtl"))
LABELLED = (".csv", ".tsv", ".jsonl")


def _one(folder: Path, pattern: str, required: bool = True) -> Path | None:
    found = sorted(folder.glob(pattern))
    if not found and required:
        sys.exit(f"bench_transfer: error: {folder}: no file matches {pattern!r}")
    return found[0] if found else None


def _labelled(folder: Path, stem: str) -> tuple[Path, str]:
    """A labelled file `stem.<format>[.gz]` and its format."""
    for fmt in LABELLED:
        path = _one(folder, f"{stem}{fmt}*", required=False)
        if path is not None:
            return path, fmt[1:]
    sys.exit(f"bench_transfer: error: {folder}: no {stem}.csv/.tsv/.jsonl (optionally .gz)")


def data_overrides(folder: Path, src: str, tgt: str) -> list[str]:
    """`dataset=csv` overrides for the files of a task folder laid out as described above."""
    folder = folder.resolve()
    if not folder.is_dir():
        sys.exit(f"bench_transfer: error: {folder}: no such folder (--data)")
    out = ["dataset=csv", f"dataset.source.lang={src}", f"dataset.target.lang={tgt}"]
    for side, lang, parts in (("source", src, ("train",)), ("target", tgt, ("train", "test"))):
        for part in parts:
            path, fmt = _labelled(folder, f"{lang}_{part}")
            out += [f"dataset.{side}.{part}.path={path}", f"dataset.{side}.{part}.format={fmt}"]
        unlabelled = _one(folder, f"{lang}_unlabelled.*", required=False)
        out.append(f"dataset.{side}.unlabelled=[{unlabelled or ''}]")
    out.append(f"dataset.dictionary.seed={_one(folder, f'{src}-{tgt}.0-5000*.txt')}")
    out.append(f"dataset.dictionary.test={_one(folder, f'{src}-{tgt}.5000-6500*.txt')}")
    return out


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value), as `dtl report` gives."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def collect(*sweeps: Path) -> dict[int, dict[str, list[float]]]:
    """Per k, each seed's numbers (means over its repeats), from the jobs' metrics.json."""
    rows: dict[int, dict[str, list[float]]] = {}
    for path in sorted(p for sweep in sweeps for p in sweep.glob("*/metrics.json")):
        m = json.loads(path.read_text())
        row = rows.setdefault(m["k"], {})
        values = {
            "transfer_acc": m["transfer"]["accuracy"],
            "transfer_f1": m["transfer"]["macro_f1"],
            "baseline_acc": m["baseline"]["accuracy"],
            "baseline_f1": m["baseline"]["macro_f1"],
            "gain_acc": m["gain"]["accuracy"],
            "gain_f1": m["gain"]["macro_f1"],
        }
        if "oracle" in m:
            values["oracle"] = m["oracle"]["majority_share"]
        for name, value in values.items():
            row.setdefault(name, []).append(value)
    return dict(sorted(rows.items()))


COLUMNS = (
    ("transfer acc", "transfer_acc"),
    ("target-only acc", "baseline_acc"),
    ("gain acc", "gain_acc"),
    ("transfer F1", "transfer_f1"),
    ("target-only F1", "baseline_f1"),
    ("gain F1", "gain_f1"),
)


def table(rows: dict[int, dict[str, list[float]]]) -> list[list[str]]:
    """Header plus one row per k: 'mean ± std' cells (std across seeds)."""
    out = [["k", "seeds", *(title for title, _ in COLUMNS)]]
    for k, row in rows.items():
        cells = [str(k), str(len(row["transfer_acc"]))]
        for _, name in COLUMNS:
            mean, std = _mean_std(row[name])
            sign = "+" if name.startswith("gain") else ""
            # One seed has no spread to show.
            cells.append(f"{mean:{sign}.3f}" + (f" ± {std:.3f}" if len(row[name]) > 1 else ""))
        if k == 0:
            cells[3] += " (source majority)"
        out.append(cells)
    return out


def markdown(cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


def plain(cells: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    )


def oracle_note(rows: dict[int, dict[str, list[float]]]) -> list[str]:
    """The oracle reference line at k = 0, if the jobs recorded it."""
    if "oracle" not in rows.get(0, {}):
        return []
    share = statistics.fmean(rows[0]["oracle"])
    return [
        f"oracle reference at k = 0: the test split's majority share {share:.3f} "
        "(reads test labels; a reference line only, no run uses it)"
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the task folder")
    parser.add_argument(
        "--collect",
        type=Path,
        nargs="+",
        help="only tabulate these finished sweep folders (e.g. one per seed), run nothing",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    parser.add_argument("--k", default="0,10,50,200,1000", help="k-shot sizes")
    parser.add_argument("--repeats", type=int, default=3, help="k-shot samples per seed and k")
    parser.add_argument("--source", default="en", help="source language prefix (en)")
    parser.add_argument("--target", default="zh", help="target language prefix (zh)")
    parser.add_argument("--out", type=Path, help="sweep folder (default bench-transfer/<time>)")
    parser.add_argument("overrides", nargs="*", help="dtl overrides, e.g. mapping=linear")
    args = parser.parse_args(argv)
    if args.collect:
        rows = collect(*args.collect)
        if not rows:
            sys.exit(
                f"bench_transfer: error: no metrics.json in {' '.join(map(str, args.collect))}"
            )
        print(markdown(table(rows)) + "\n\n" + "\n".join(oracle_note(rows)))
        return
    if args.data is None:
        parser.error("--data is required (or --collect)")
    out = (
        args.out or Path("bench-transfer") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    ).resolve()
    command = [
        DTL,
        "run",
        "-m",
        *data_overrides(args.data, args.source, args.target),
        f"seed={args.seeds}",
        f"evaluation.k={args.k}",
        f"evaluation.repeats={args.repeats}",
        f"hydra.sweep.dir={out}",
        *args.overrides,
    ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.node()}")
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    result = subprocess.run(command)
    seconds = time.perf_counter() - started
    rows = collect(out)
    if not rows:
        sys.exit(f"bench_transfer: error: no job of {out} wrote metrics.json (dtl exited "
                 f"{result.returncode})")  # fmt: skip
    cells = table(rows)
    notes = [
        f"{args.data}: seeds {args.seeds}, {args.repeats} k-shot samples per seed and k; "
        "mean ± std across seeds (each seed's mean over its samples)",
        f"wall time {seconds / 60:.1f} min on {platform.machine()}, {os.cpu_count()} cores",
    ]
    notes += oracle_note(rows)
    print("\n" + plain(cells) + "\n" + "\n".join(notes))
    (out / "bench_transfer.md").write_text(markdown(cells) + "\n\n" + "\n".join(notes) + "\n")
    print(f"\nMarkdown: {out / 'bench_transfer.md'}; per-job table: dtl report {out}")
    if result.returncode != 0:
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
