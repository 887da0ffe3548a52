"""Choose CPU or GPUs and apply the choice before TensorFlow first touches a device.

`plan_devices` is a pure function (tested against made-up device lists); `apply_device_plan`
sets the environment before the import and `check_devices` compares what TensorFlow then sees.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from dtl_cli.errors import ConfigError, DeviceError

KINDS = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class DevicePlan:
    kind: str  # what was asked: auto | cpu | gpu
    gpus: tuple[int, ...]  # physical GPU ids to make visible; () means CPU only
    fallback: str  # cpu | error
    memory_growth: bool = True

    @property
    def visible_devices(self) -> str:
        """The CUDA_VISIBLE_DEVICES value: "-1" hides every GPU."""
        return ",".join(str(g) for g in self.gpus) if self.gpus else "-1"


def plan_devices(
    kind: str, gpus: list[int], fallback: str = "cpu", memory_growth: bool = True
) -> DevicePlan:
    """Validate a device request. `auto` leaves visibility alone and uses whatever is there."""
    if kind not in KINDS:
        raise ConfigError(f"device.kind={kind!r} is not one of {', '.join(KINDS)}")
    if fallback not in ("cpu", "error"):
        raise ConfigError(f"device.fallback={fallback!r} must be 'cpu' or 'error'")
    if any((not isinstance(g, int)) or g < 0 for g in gpus):
        raise ConfigError(f"device.gpus={list(gpus)} must list GPU numbers >= 0, e.g. [0,1]")
    if kind == "gpu" and not gpus:
        raise ConfigError("device=gpu needs device.gpus, e.g. device.gpus=[0]")
    if kind == "cpu":
        gpus = []
    return DevicePlan(kind, tuple(gpus), fallback, memory_growth)


def apply_device_plan(plan: DevicePlan) -> None:
    """Set environment variables TensorFlow reads at import. Call before importing it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if plan.kind != "auto":
        os.environ["CUDA_VISIBLE_DEVICES"] = plan.visible_devices


def resolve_devices(plan: DevicePlan, seen_gpus: list[str]) -> list[str]:
    """The TensorFlow device names to use, given the GPUs TensorFlow reports (after import).

    Raises DeviceError if GPUs were asked for and fewer are visible, unless fallback is cpu.
    """
    if plan.kind == "cpu":
        return ["/CPU:0"]
    if plan.kind == "auto":
        return [f"/GPU:{i}" for i in range(len(seen_gpus))] or ["/CPU:0"]
    if len(seen_gpus) >= len(plan.gpus):
        return [f"/GPU:{i}" for i in range(len(plan.gpus))]
    if plan.fallback == "cpu":
        return ["/CPU:0"]
    asked = ",".join(str(g) for g in plan.gpus)
    raise DeviceError(
        f"device.gpus=[{asked}] asks for {len(plan.gpus)} GPU(s) but TensorFlow sees "
        f"{len(seen_gpus)}; use device=cpu, or device.fallback=cpu to run on the CPU instead"
    )


def init_tensorflow(plan: DevicePlan, seed: int, deterministic: bool) -> list[str]:
    """Import TensorFlow with the plan applied; seed it; return the device names in use."""
    apply_device_plan(plan)
    with _native_stderr_to_log():
        import keras
        import tensorflow as tf

        seen = [d.name for d in tf.config.list_physical_devices("GPU")]
    devices = resolve_devices(plan, seen)
    if plan.memory_growth:
        for gpu in tf.config.list_physical_devices("GPU"):
            # RuntimeError: already initialised (a second sweep job in the same process).
            with suppress(RuntimeError):
                tf.config.experimental.set_memory_growth(gpu, True)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return devices


@contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Keep TensorFlow's C++ start-up chatter (which ignores TF_CPP_MIN_LOG_LEVEL) off the
    terminal; it is replayed if the import fails, and kept with DTL_TF_LOGS=1."""
    if os.environ.get("DTL_TF_LOGS") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
