"""The `dtl` command: picks the verb, hands the rest of the command line to Hydra.

`dtl` and `dtl --help` answer without importing Hydra or TensorFlow.
"""

from __future__ import annotations

import os
import sys

from dtl_cli import __version__
from dtl_cli.verbs import VERBS

HELP = {verb: text for verb, (text, _) in VERBS.items()}
# Verbs that read run folders instead of running stages: no Hydra, no TensorFlow.
TOOLS = {
    "report": "summarise run/sweep folders: table, report.csv/.md, plots (dtl report --help)",
    "info": "versions, the devices TensorFlow sees, and what a config would use",
    "store": "the stage store: ls (kinds, sizes, last use), gc (by age or unused), verify",
    "predict": "classify new documents with a run's model: label + probabilities (CSV/JSONL)",
    "export": "a run's model as a standalone predictor, mapped vectors, induced dictionary",
}

USAGE = f"""\
usage: dtl VERB [OVERRIDE ...] [-m] [--cfg job] [--help] [--info]
       dtl report PATH ... [--metric M] [--group KEY,...] [--out DIR] [--timings]
       dtl store ls | gc [--older-than 30d] [--unreferenced PATH] [--outdated] | verify
       dtl predict RUN [INPUT] [--out FILE] [--k K] [--repeat R]
       dtl export RUN --out DIR [--k K] [--repeat R]

dtl {__version__}: deep-transfer-learning experiments across languages, from Hydra configs.

verbs:
{chr(10).join(f"  {verb:<10}{text}" for verb, text in {**HELP, **TOOLS}.items())}

Each verb runs the stages it needs; stages already in the store are reused.
Overrides are Hydra's: `dtl run mapping=linear evaluation.k=50 device=cpu`.
Sweeps: `dtl transfer -m mapping=linear,procrustes evaluation.k=0,100`, then
`dtl report outputs/multirun/transfer/<date>/<time>` for the table and plots.
`dtl VERB --help` lists the config groups and keys; `dtl VERB --cfg job` prints the config.
Completion of verbs, groups and keys: eval "$(dtl -sc install=bash)" (or install=zsh).
Errors print one line; set HYDRA_FULL_ERROR=1 for a traceback.
"""


def main(argv: list[str] | None = None) -> int:
    """Run `dtl ARGV`; returns the exit status (Ctrl-C 130, SIGTERM 143: one line each)."""
    from dtl_cli.faults import INTERRUPTED, Interrupted, exit_status, signals_as_exceptions

    try:
        with signals_as_exceptions():
            return _main(sys.argv[1:] if argv is None else argv)
    except (KeyboardInterrupt, Interrupted) as err:
        print(f"dtl: {INTERRUPTED}", file=sys.stderr)
        return exit_status(err)


def _main(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    if args[0] in ("-V", "--version"):
        print(f"dtl {__version__}")
        return 0
    completion = [i for i, a in enumerate(args) if a in ("-sc", "--shell-completion")]
    if completion:  # `dtl -sc install=bash`, also after a verb; Hydra's script asks `-sc query`
        from dtl_cli.completion import main as completion_main

        return completion_main(args[completion[0] + 1 :], [*VERBS, *TOOLS], list(VERBS))
    verb, rest = args[0], args[1:]
    if verb == "report":
        from dtl_cli.report import main as report_main

        return report_main(rest)
    if verb == "store":
        from dtl_cli.store_cli import main as store_main

        return store_main(rest)
    if verb in ("predict", "export"):
        from dtl_cli import use_cli

        return (use_cli.predict_main if verb == "predict" else use_cli.export_main)(rest)
    if verb == "info":
        from dtl_cli.info import main as info_main

        return info_main(rest)
    if verb in ("-m", "--multirun") and rest and rest[0] in VERBS:
        print(f"dtl: error: the verb comes first: dtl {rest[0]} {verb} ...", file=sys.stderr)
        return 2
    if verb not in VERBS:
        verbs = ", ".join([*VERBS, *TOOLS])
        print(
            f"dtl: error: unknown verb {verb!r}; choose one of {verbs} (dtl --help)",
            file=sys.stderr,
        )
        return 2
    return _run_hydra(verb, rest)


def _run_hydra(verb: str, overrides: list[str]) -> int:
    from dtl_cli import ui
    from dtl_cli.hydra_app import FAILED_JOBS, check_overrides, hydra_entry

    ui.route_warnings()
    # Hydra's parser wants -m before the overrides; a user may put it anywhere.
    multirun = [a for a in overrides if a in ("-m", "--multirun")]
    overrides = [*multirun[:1], *(a for a in overrides if a not in ("-m", "--multirun"))]
    problem = check_overrides(overrides)
    if problem:
        print(f"dtl: error: {problem}", file=sys.stderr)
        return 2
    sys.argv = [f"dtl {verb}", *_overrides_last(overrides, f"hydra.job.name={verb}")]
    FAILED_JOBS.clear()
    try:
        hydra_entry()
    except SystemExit as done:  # a job's exit status (Hydra exits 1 on a bug's traceback)
        if done.code not in (None, 0):
            return done.code if isinstance(done.code, int) else 1
    if FAILED_JOBS:
        print(
            f"dtl: error: {len(FAILED_JOBS)} sweep job(s) failed: " + "; ".join(FAILED_JOBS),
            file=sys.stderr,
        )
        return 2
    return 0


def _overrides_last(args: list[str], extra: str) -> list[str]:
    """Hydra's flags first, then the overrides and `extra`: argparse takes the overrides as one
    positional list, so an override appended after a flag's value would be rejected."""
    from hydra._internal.utils import get_args_parser

    overrides = get_args_parser().parse_args(args).overrides
    flags = list(args)
    for override in overrides:
        flags.remove(override)
    return [*flags, *overrides, extra]


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    console_main()
