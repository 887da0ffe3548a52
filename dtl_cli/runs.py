"""A finished run folder, read back: its config, its store and the (k, repeat) models it made.

Used by `dtl predict` and `dtl export`; reads JSON and YAML only (no TensorFlow), so bad
input is reported before the slow imports.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dtl_cli.errors import DtlError

_SHOT = re.compile(r"k=([^/]+)/repeat=(\d+)")


class UseError(DtlError):
    """Bad input to predict/export: one `dtl: error:` line, exit status 2."""


@dataclass
class Run:
    folder: Path
    cfg: DictConfig  # the run's saved job config, paths.store set to the store it used
    record: dict  # run.json
    shots: list[tuple[int | str, int]]  # the (k, repeat) of every fine-tuned model

    def choose(self, k: str | None, repeat: int | None) -> tuple[int | str, int]:
        """The (k, repeat) asked for; by default the largest k (`all` counts as largest)."""
        ks = sorted({s[0] for s in self.shots}, key=_k_order)
        chosen_k = ks[-1] if k is None else _parse_k(k)
        if chosen_k not in ks:
            raise UseError(
                f"--k {k}: {self.folder} has fine-tuned models for k = "
                f"{', '.join(map(str, ks))} only"
            )
        repeats = sorted(r for kk, r in self.shots if kk == chosen_k)
        chosen_r = repeats[0] if repeat is None else repeat
        if chosen_r not in repeats:
            raise UseError(
                f"--repeat {repeat}: k={chosen_k} has repeats "
                f"{', '.join(map(str, repeats))} in {self.folder}"
            )
        return chosen_k, chosen_r


def _parse_k(text: str) -> int | str:
    return int(text) if str(text).isdigit() else str(text)


def _k_order(k: int | str) -> tuple[int, int]:
    return (1, 0) if k == "all" else (0, int(k))


def read_run(folder: str | Path) -> Run:
    """The run in `folder`, which must hold a fine-tuned model (`dtl transfer`/`dtl run`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UseError(f"{folder}: no such run folder (give outputs/<verb>/<date>/<time>)")
    record_file, config_file = folder / "run.json", folder / ".hydra" / "config.yaml"
    if not record_file.is_file() or not config_file.is_file():
        raise UseError(
            f"{folder}: not a finished dtl run (no run.json or .hydra/config.yaml); "
            "give the folder of a `dtl run` or `dtl transfer`"
        )
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        cfg = OmegaConf.load(config_file)
    except ValueError as err:
        raise UseError(f"{record_file}: unreadable ({err})") from None
    shots = [
        (_parse_k(m.group(1)), int(m.group(2)))
        for name in (record.get("stages", {}).get("finetune", {}).get("shots") or {})
        if (m := _SHOT.fullmatch(name))
    ]
    if not shots:
        verb = record.get("verb", "?")
        raise UseError(
            f"{folder}: this `dtl {verb}` run has no fine-tuned model; use the folder of a "
            "`dtl transfer` or `dtl run`"
        )
    OmegaConf.update(cfg, "paths.store", record["store"], force_add=True)
    return Run(folder, _with_defaults(cfg), record, shots)


def _with_defaults(cfg: DictConfig) -> DictConfig:
    """The saved config over today's schema, so keys added since the run have their defaults
    (and `${dtl_data:...}` paths resolve); as saved if it no longer fits the schema."""
    from dtl_cli.schema import DtlConfig, register

    register()
    try:
        return OmegaConf.merge(OmegaConf.structured(DtlConfig), cfg)
    except Exception:  # a key removed since: read the run as it was
        return cfg
