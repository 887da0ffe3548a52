"""`dtl report`: run and sweep folders -> one pandas table -> rich table, CSV, Markdown, plots.

It reads only what runs leave behind (`.hydra/overrides.yaml`, `status.txt`, `metrics.json`,
`run.json`), so it works on finished, failed and still-running sweeps alike, and it imports
neither Hydra nor TensorFlow.

    dtl report outputs/multirun/run/2024-05-01/12-00-00-123456
    dtl report outputs/multirun --metric bli.csls.p@1 --group mapping --out results/

Runs are grouped by the keys the sweep varied (`seed` and `repeat` excluded: they are what the
mean and standard deviation are taken over), one row per configuration.

Modules, in the order a report flows through them: `runs` (run folders -> runs DataFrame),
`summarise` (configurations, mean ± std, best rows), `render` (console table, report.md,
report.csv), `plots` (PNGs) and `cli` (`dtl report` arguments, `report()`, `main()`).
"""

from dtl_cli.report.cli import main, report
from dtl_cli.report.runs import ReportError, collect, find_runs, parse_override
from dtl_cli.report.summarise import best_rows, summarize, swept_keys

__all__ = [
    "ReportError",
    "best_rows",
    "collect",
    "find_runs",
    "main",
    "parse_override",
    "report",
    "summarize",
    "swept_keys",
]
