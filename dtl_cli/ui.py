"""Terminal output: rich stage headers, progress and tables; plain lines when not on a terminal.

Everything shown is also sent to the `dtl` logger, which Hydra writes into the run folder.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from dtl_cli.errors import DtlWarning

log = logging.getLogger("dtl")
# Records still reach the handlers Hydra sets up (the run's log file); without any (`dtl
# store`, the pre-check) Python's last-resort handler would print each error line twice.
log.addHandler(logging.NullHandler())
console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def stage(name: str, status: str) -> None:
    """A stage header, e.g. `stage("pretrain", "cached")`."""
    log.info("stage %s: %s", name, status)
    if console.is_terminal:
        console.rule(f"[bold]{name}[/bold] [dim]{status}[/dim]", align="left")
    else:
        console.print(f"== {name}: {status}")


def info(message: str) -> None:
    log.info(message)
    console.print(f"  {escape(message)}", soft_wrap=True)


def error(message: str) -> None:
    """One line on stderr: what is wrong and what to do."""
    log.error(message)
    error_console.print(f"[bold red]dtl: error:[/bold red] {escape(message)}", soft_wrap=True)


def warning(message: str) -> None:
    """One line on stderr: something suspicious, and what to check."""
    log.warning(message)
    error_console.print(
        f"[bold yellow]dtl: warning:[/bold yellow] {escape(message)}", soft_wrap=True
    )


def route_warnings() -> None:
    """Show every DtlWarning (raised by library modules) as a `dtl: warning:` line, each time;
    other warnings keep Python's handling."""
    if getattr(warnings.showwarning, "routes_dtl", False):
        return
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DtlWarning):
            warning(str(message))
        else:
            shown(message, category, filename, lineno, file, line)

    show.routes_dtl = True
    warnings.showwarning = show
    warnings.simplefilter("always", DtlWarning)


class Progress:
    """Counts steps of a named task: a rich bar on a terminal, one line per step otherwise."""

    def __init__(self, description: str, total: int):
        self.description, self.total = description, total
        self._bar: RichProgress | None = None
        self._task = None
        self._done = 0

    def advance(self, note: str = "") -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, note=note)
        else:
            self._done += 1
            # About ten lines per task in a log, always including the last step.
            every = max(1, self.total // 10)
            if self._done % every == 0 or self._done == self.total:
                console.print(
                    escape(f"  {self.description} {self._done}/{self.total} {note}".rstrip())
                )
        log.info("%s step %s", self.description, note)


@contextmanager
def progress(description: str, total: int) -> Iterator[Progress]:
    bar = Progress(description, total)
    if console.is_terminal:
        with RichProgress(
            TextColumn("  {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
            transient=False,
        ) as rich_bar:
            bar._bar = rich_bar
            bar._task = rich_bar.add_task(description, total=total, note="")
            yield bar
    else:
        yield bar
