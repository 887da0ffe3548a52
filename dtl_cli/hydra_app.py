"""The Hydra application behind every verb: config composition, devices, then the pipeline.

The verb arrives as `hydra.job.name`, so it travels with each job of a sweep, also to the
worker processes of a parallel launcher.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from dtl_cli import ui
from dtl_cli.errors import ConfigError, DtlError, DtlWarning
from dtl_cli.faults import recorded
from dtl_cli.preflight import check_writable_folder, preflight
from dtl_cli.schema import check_config, key_hint, register

register()
CONFIG_MODULE = "dtl_cli.configs"
# A sweep's jobs that failed with a user error, for `cli` to report: appended by jobs of the
# basic launcher (they run in this process), set by SweepFailures for parallel launchers.
FAILED_JOBS: list[str] = []


def check_overrides(args: list[str]) -> str | None:
    """Compose the config a single run would use, check it against its schema and the files
    it names (`preflight`); return a one-line problem.

    Lets a typo fail at once, with the key named, before any work. For a sweep (-m), every
    value of every swept key is checked (see `check_sweep`); --help, --info and --cfg need no
    check.
    """
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def fail(message: str):
        raise ValueError(message)

    parser.error = fail
    try:
        parsed = parser.parse_args(args)
    except ValueError as err:
        return f"could not parse the command line ({err}); see `dtl run --help`"
    if parsed.multirun and (parsed.cfg or parsed.info):
        return "-m runs a sweep, --cfg/--info show one config: drop -m, or one of them"
    problem = (
        check_syntax(parsed.overrides)
        or check_duplicates(parsed.overrides)
        or check_plugins(parsed.overrides)
        or check_run_folders(parsed.overrides)
    )
    if problem or parsed.help or parsed.hydra_help or parsed.info or parsed.cfg:
        return problem
    extra = search_path_overrides(parsed.config_dir)
    if isinstance(extra, str):
        return extra
    if parsed.multirun:
        return check_sweep([*parsed.overrides, *extra])
    try:
        quiet_preflight(compose_config([*parsed.overrides, *extra]))
    except DtlError as err:
        return str(err)
    except Exception as err:  # any composition failure is the user's config: report it
        return one_line(err, parsed.overrides)
    return None


def check_run_folders(overrides: list[str]) -> str | None:
    """`hydra.run.dir=` / `hydra.sweep.dir=` given on the command line can be written (the
    default, under `paths.output`, is checked by `preflight`); a one-line problem."""
    for override in overrides:
        key, _, value = override.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and value:
            try:
                check_writable_folder(key, value)
            except DtlError as err:
                return str(err)
    return None


def quiet_preflight(cfg: DictConfig) -> None:
    """`preflight` for its errors only: each job runs it again and says its warnings (in its
    log too), so the pre-check saying them would say each twice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DtlWarning)
        preflight(cfg)


def search_path_overrides(config_dir: str | None) -> list[str] | str:
    """`--config-dir DIR` as the override that gives the pre-check the same search path as
    the run (Hydra appends DIR to it); a problem line when DIR is not a folder."""
    if config_dir is None:
        return []
    folder = Path(config_dir).resolve()
    if not folder.is_dir():
        return f"--config-dir {config_dir}: no such folder"
    return [f"hydra.searchpath=[file://{folder}]"]


def with_config_dir(args: list[str]) -> list[str]:
    """Plain overrides with `--config-dir DIR` / `-cd DIR` turned into the search-path override
    (for verbs that compose a config without Hydra's command line, like `dtl info`).

    Raises ConfigError when DIR is not a folder or the flag has no value.
    """
    out, rest = [], list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name not in ("--config-dir", "-cd"):
            out.append(arg)
            continue
        if not eq:
            if not rest:
                raise ConfigError(f"{name} needs a folder: {name} DIR")
            value = rest.pop(0)
        extra = search_path_overrides(value)
        if isinstance(extra, str):
            raise ConfigError(extra)
        out.extend(extra)
    return out


def check_duplicates(overrides: list[str]) -> str | None:
    """Hydra keeps the last of two values for one key without a word: say it instead."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    seen: dict[str, str] = {}
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # a syntax error: composing says it with Hydra's message
        return None
    for override in parsed:
        key = override.get_key_element().lstrip("+~")
        if key in seen:
            return (
                f"Multiple values for {key} ({seen[key]} and {override.input_line}); "
                "give each key once (a sweep lists its values: key=a,b)"
            )
        seen[key] = override.input_line
    return None


def check_plugins(overrides: list[str]) -> str | None:
    """A launcher or sweeper that is not installed, named with the line that installs it."""
    from hydra import compose, initialize_config_module

    chosen = [o for o in overrides if re.match(r"hydra/(launcher|sweeper)=", o)]
    if not chosen:
        return None
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            compose("config", overrides=chosen, return_hydra_config=True)
    except Exception as err:
        missing = re.search(r"Could not find 'hydra/(launcher|sweeper)/(\w+)'", str(err))
        if missing is None:
            return one_line(err)
        group, name = missing.groups()
        return f"hydra/{group}={name}: the plugin is not installed; {install_hint(group, name)}"
    return None


def install_hint(group: str, name: str) -> str:
    """`pip install 'dtl[extra]'` when an extra of dtl brings the plugin, else Hydra's package."""
    from importlib import metadata

    stem = name.split("_")[0]
    for requirement in metadata.requires("dtl") or []:
        extra = re.search(r"extra == \"(\w+)\"", requirement)
        if extra and re.match(rf"hydra-{stem}-{group}\b", requirement):
            return f"pip install 'dtl[{extra.group(1)}]'"
    return f"pip install hydra-{stem}-{group} (if Hydra has such a plugin)"


def check_sweep(overrides: list[str]) -> str | None:
    """Compose each value of each swept key once (the other keys at their first value).

    Hydra itself composes every cell of a grid before it launches any, and stops the whole
    sweep on a bad one with a multi-line message; this finds the same mistakes first, in
    1 + sum(values - 1) compositions instead of one per cell, and says it on one line. Sweeps
    this cannot enumerate (glob) are left to Hydra.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(
            [o for o in overrides if not o.startswith(("hydra.", "hydra/"))]
        )
        searchpath = [o for o in overrides if o.startswith("hydra.searchpath=")]
        choices = []
        for override in parsed:
            if override.is_sweep_override():
                key = override.get_key_element()
                values = [f"{key}={v}" for v in override.sweep_string_iterator()]
            else:
                values = [override.input_line]
            choices.append(values)
    except Exception:  # a syntax Hydra will reject, or a glob sweep: Hydra says it best
        return None
    base = [values[0] for values in choices if values]
    cells = [base] + [
        [*base[:i], value, *base[i + 1 :]]
        for i, values in enumerate(choices)
        for value in values[1:]
    ]
    for cell in cells:
        try:
            quiet_preflight(compose_config([*cell, *searchpath]))
        except DtlError as err:
            return f"{err} (in the sweep; no job was started)"
        except Exception as err:  # as in check_overrides: the user's config
            return f"{one_line(err, cell)} (in the sweep; no job was started)"
    return None


def compose_config(overrides: list[str]) -> DictConfig:
    """The resolved job config for `overrides` (hydra.* ones ignored), without a run folder.

    Raises ConfigError for a key left without a value, Hydra/OmegaConf errors otherwise.
    """
    from hydra import compose, initialize_config_module

    # hydra.* overrides configure the run, not the job config; the search path shapes both.
    plain = [
        o
        for o in overrides
        if o.startswith("hydra.searchpath=") or not o.startswith(("hydra.", "hydra/"))
    ]
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        cfg = compose("config", overrides=plain)
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(
            f"config key {missing[0]} has no value; set it, e.g. `{missing[0]}=...`"
            + (f" (also missing: {', '.join(missing[1:])})" if missing[1:] else "")
        )
    OmegaConf.resolve(cfg)
    check_config(cfg)
    return cfg


def check_syntax(overrides: list[str]) -> str | None:
    """The first override Hydra's grammar rejects, as one line (see `parse_problem`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        OverridesParser.create().parse_overrides(overrides)
    except Exception as err:
        return parse_problem(overrides, err)
    return None


def parse_problem(overrides: list[str], err: Exception) -> str:
    """Hydra's override grammar error as one line naming the override that fails to parse
    (each is parsed alone), Hydra's reason and the fix."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    reason = str(err).splitlines()[0]
    for override in overrides:
        try:
            parser.parse_override(override)
        except Exception as own:
            reason = str(own).splitlines()[-2 if "See https" in str(own) else -1].strip()
            key, _, value = override.partition("=")
            closer = {"[": "]", "{": "}"}.get(value[:1])
            if value.startswith("~"):
                fix = "give the full path (~ is not expanded in an override)"
            elif closer and not value.endswith(closer):
                fix = f"close the {'list' if closer == ']' else 'dict'} with {closer!r}"
            else:
                fix = f"quote the value, e.g. {key}='{value}'" if value else "check its syntax"
            return f"could not parse the override {override} ({reason}); {fix}"
    return f"could not parse the overrides ({reason}); check their syntax"


def one_line(err: Exception, overrides: list[str] | None = None) -> str:
    """Hydra/OmegaConf messages span several lines; keep what names the key and the fix
    (for a grammar error, the override among `overrides` that Hydra cannot parse)."""
    if overrides and type(err).__name__ == "OverrideParseException":
        return parse_problem(overrides, err)
    text = str(err)
    if err.__cause__ is not None:
        text += "\n" + str(err.__cause__)
    text = text.split("Config search path:")[0]
    full_key = re.search(r"full_key: (\S+)", text)
    unknown = re.search(r"Key '([^']+)' not in '(\w+)'", text)
    if unknown and full_key:  # a typo: name the key and the nearest real one, never `+key`
        key, prefix = full_key.group(1), full_key.group(1).rpartition(".")[0]
        hint = key_hint(unknown.group(2), unknown.group(1), f"{prefix}." if prefix else "")
        return f"{key} is not a key of {prefix or 'the config'} ({unknown.group(2)}); {hint}"
    options: list[str] = []
    kept: list[str] = []
    in_options = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Available options"):
            in_options = True
        elif in_options and raw.startswith(("\t", " ")) and line:
            options.append(line)
        elif line and not line.startswith(_NOISE):
            in_options = False
            kept.append(line.rstrip("."))
    message = "; ".join(dict.fromkeys(kept))
    choices = re.match(
        r"Error merging override (\S+); Invalid value .*, expected (one of .*)", message
    )
    if choices:  # a value outside a Choice enum
        return f"{choices.group(1)} must be {re.sub(r'[][]', '', choices.group(2))}"
    message = re.sub(r"^Error merging override (\S+); ", r"\1: ", message)
    if full_key and full_key.group(1) not in message:
        message = f"{full_key.group(1)}: {message}"
    if options:
        message += f"; choose one of: {', '.join(options)}"
    return message


# Lines of Hydra/OmegaConf messages that say nothing to the user.
_NOISE = ("full_key:", "object_type", "reference_type", "To append to your config")


@hydra.main(version_base="1.3", config_path="pkg://dtl_cli.configs", config_name="config")
def hydra_entry(cfg: DictConfig) -> float | None:
    """Runs the verb's stages; returns `evaluation.objective`'s value for a sweeper (or None)."""
    ui.route_warnings()
    logging.raiseExceptions = False  # a full disk must not turn log lines into tracebacks
    hydra_cfg = HydraConfig.get()
    verb = hydra_cfg.job.name
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    if hydra_cfg.job.chdir:  # relative paths were given from where dtl was started
        absolute_paths(cfg, Path(hydra_cfg.runtime.cwd))
    try:
        with recorded(run_dir, where=f"the store {cfg.paths.store} or {run_dir}"):
            check_config(cfg)  # before TensorFlow: a bad value or file costs no start-up
            preflight(cfg)
            from dtl_cli.objective import check_objective

            e = cfg.evaluation
            objective = check_objective(e.objective, verb, e.dev_fraction)
            devices = _devices(cfg, narrow=not multirun)
            from dtl_cli.pipeline import run_pipeline

            record = run_pipeline(verb, cfg, run_dir, devices)
            return None if objective is None else _objective_value(objective, run_dir, record)
    except DtlError as err:
        ui.error(str(err))
        if multirun:
            FAILED_JOBS.append(f"job {hydra_cfg.job.num}: {err}")
            return
        sys.exit(2)


def absolute_paths(cfg: DictConfig, cwd: Path) -> None:
    """Make every relative path of `cfg` (data files, dictionaries, vectors, the store and
    run folders) absolute against `cwd`, where they were given (`hydra.job.chdir=true`
    moves the job into its run folder)."""
    from dtl_cli.schema import tagged

    def absolute(value: str) -> str:
        return value if os.path.isabs(value) or "://" in value else str(cwd / value)

    for key, value, _, _ in list(tagged(cfg, "path")):
        fixed = absolute(value) if isinstance(value, str) else [absolute(v) for v in value]
        OmegaConf.update(cfg, key, fixed)
    for key in ("paths.store", "paths.output", "logger.tracking_uri"):
        value = OmegaConf.select(cfg, key)
        if isinstance(value, str) and value:
            OmegaConf.update(cfg, key, absolute(value))


def _objective_value(objective, run_dir: Path, record: dict) -> float:
    from dtl_cli.objective import objective_value

    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    bli = record["stages"].get("map", {}).get("bli")
    value = objective_value(objective, metrics, bli)
    # For `dtl report` over a search: which number the sweeper saw.
    (run_dir / "objective.json").write_text(json.dumps({"name": objective.name, "value": value}))
    ui.info(f"objective {objective.name} = {value:.4f}")
    return value


def _devices(cfg: DictConfig, narrow: bool) -> list[str]:
    from dtl_cli.device import init_tensorflow, plan_devices

    d = cfg.device
    plan = plan_devices(d.kind, list(d.gpus), d.fallback, d.memory_growth, d.mixed_precision)
    return init_tensorflow(plan, cfg.seed, cfg.deterministic, narrow=narrow)


class SweepFailures(Callback):
    """Counts a sweep's failed jobs from their `status.txt`, in the process that launched them.

    The basic launcher runs jobs in this process, but parallel ones (joblib, submitit) run them
    in others, where `FAILED_JOBS` is out of reach; the folders are not. Registered in
    configs/config.yaml under `hydra.callbacks`.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.started = time.time()

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from dtl_cli.report.runs import natural_path_key

        sweep_dir = Path(str(config.hydra.sweep.dir))
        started = getattr(self, "started", 0.0) - 1.0
        failed = []
        for status in sorted(sweep_dir.rglob("status.txt"), key=natural_path_key):
            if status.stat().st_mtime < started:  # left by an earlier sweep into the same folder
                continue
            text = status.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("failed"):
                job = status.parent.relative_to(sweep_dir)
                failed.append(f"job {job}: {text.removeprefix('failed:').strip()}")
        FAILED_JOBS[:] = failed
