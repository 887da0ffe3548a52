"""`dtl info [OVERRIDE ...]`: versions, the devices TensorFlow sees, and what a config uses."""

from __future__ import annotations

import sys
import warnings
from importlib import metadata

from rich.table import Table

from dtl_cli import __version__, ui
from dtl_cli.errors import DtlError, DtlWarning

PACKAGES = ("tensorflow", "keras", "hydra-core", "omegaconf", "gensim", "nltk", "jieba", "numpy")


def main(overrides: list[str]) -> int:
    from dtl_cli.device import init_tensorflow, plan_devices
    from dtl_cli.hydra_app import compose_config, one_line, with_config_dir

    try:
        cfg = compose_config(with_config_dir(overrides))
    except DtlError as err:
        ui.error(str(err))
        return 2
    except Exception as err:  # a Hydra/OmegaConf composition error: the user's config
        ui.error(one_line(err))
        return 2
    inputs = check_inputs(cfg)
    d = cfg.device
    try:
        plan = plan_devices(d.kind, list(d.gpus), d.fallback, d.memory_growth, d.mixed_precision)
        devices = init_tensorflow(plan, cfg.seed, deterministic=False)
        use = ", ".join(devices) + (" (MirroredStrategy)" if len(devices) > 1 else "")
    except DtlError as err:
        use = f"error: {err}"
    import tensorflow as tf

    versions = Table(title="versions", show_header=False)
    versions.add_row("dtl", __version__)
    versions.add_row("python", sys.version.split()[0])
    for package in PACKAGES:
        try:
            versions.add_row(package, metadata.version(package))
        except metadata.PackageNotFoundError:
            versions.add_row(package, "not installed")
    ui.console.print(versions)

    seen = Table(title="devices TensorFlow sees")
    for column in ("device", "type", "details"):
        seen.add_column(column)
    for device in tf.config.list_physical_devices():
        details = ""
        if device.device_type == "GPU":
            info = tf.config.experimental.get_device_details(device)
            details = ", ".join(f"{k}={v}" for k, v in info.items())
        seen.add_row(device.name, device.device_type, details)
    ui.console.print(seen)

    chosen = Table(title="this config", show_header=False)
    chosen.add_row("device", f"{d.kind} (gpus={list(d.gpus)}, fallback={d.fallback})")
    chosen.add_row("mixed precision", str(d.mixed_precision))
    chosen.add_row("would use", use)
    chosen.add_row("store", str(cfg.paths.store))
    chosen.add_row("run folders", str(cfg.paths.output))
    said, problem = inputs
    verdict = (
        "rejected before the first stage (below)" if problem else "every pre-flight check passes"
    )
    chosen.add_row("inputs", verdict + (f", {len(said)} warning(s)" if said else ""))
    ui.console.print(chosen)
    for line in said:
        ui.warning(line)
    if problem:
        ui.error(problem)
    return 2 if use.startswith("error") or problem else 0


def check_inputs(cfg) -> tuple[list[str], str | None]:
    """What a run of `cfg` would say before its first stage (`preflight`): its warnings and
    its error line (None when it would start)."""
    from dtl_cli.preflight import preflight

    problem = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DtlWarning)
        try:
            preflight(cfg)
        except DtlError as err:
            problem = str(err)
    return [str(w.message) for w in caught if issubclass(w.category, DtlWarning)], problem
