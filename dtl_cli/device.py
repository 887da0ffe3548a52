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
    mixed_precision: bool = False

    @property
    def visible_devices(self) -> str:
        """The CUDA_VISIBLE_DEVICES value: "-1" hides every GPU."""
        return ",".join(str(g) for g in self.gpus) if self.gpus else "-1"


def plan_devices(
    kind: str,
    gpus: list[int],
    fallback: str = "cpu",
    memory_growth: bool = True,
    mixed_precision: bool = False,
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
    return DevicePlan(kind, tuple(gpus), fallback, memory_growth, mixed_precision)


def apply_device_plan(plan: DevicePlan, narrow: bool = True) -> bool:
    """Set the environment TensorFlow reads at import; True if GPU visibility was narrowed.

    Visibility is narrowed only for a single run (`narrow`) before TensorFlow's import. In a
    sweep, jobs share a process (basic launcher) or a reused worker (joblib): every GPU stays
    visible there and each job picks its own by device name.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if plan.kind == "auto" or not narrow or "tensorflow" in sys.modules:
        return False
    os.environ["CUDA_VISIBLE_DEVICES"] = plan.visible_devices
    return True


def resolve_devices(plan: DevicePlan, seen_gpus: list[str], renumbered: bool = True) -> list[str]:
    """The TensorFlow device names to use, given the GPUs TensorFlow reports (after import).

    `renumbered`: visibility was narrowed to the plan's GPUs, which TensorFlow then numbers
    from 0; otherwise GPU n is "/GPU:n". Raises DeviceError if a requested GPU is missing,
    unless fallback is cpu.
    """
    if plan.kind == "cpu":
        return ["/CPU:0"]
    if plan.kind == "auto":
        return [f"/GPU:{i}" for i in range(len(seen_gpus))] or ["/CPU:0"]
    if renumbered:
        found = len(seen_gpus) >= len(plan.gpus)
        names = [f"/GPU:{i}" for i in range(len(plan.gpus))]
    else:
        found = all(g < len(seen_gpus) for g in plan.gpus)
        names = [f"/GPU:{g}" for g in plan.gpus]
    if found:
        return names
    if plan.fallback == "cpu":
        return ["/CPU:0"]
    asked = ",".join(str(g) for g in plan.gpus)
    raise DeviceError(
        f"device.gpus=[{asked}] asks for {len(plan.gpus)} GPU(s) but TensorFlow sees "
        f"{len(seen_gpus)}; use device=cpu, or device.fallback=cpu to run on the CPU instead"
    )


_devices: list[str] = []  # the devices of the current job (see use_devices)


def make_strategy(devices: list[str]):
    """MirroredStrategy over several devices (batch size is global), else None."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices) if len(devices) > 1 else None


def use_devices(devices: list[str]) -> None:
    """Make `device_scope()` place work on `devices` for the rest of this job."""
    global _devices
    _devices = list(devices)


@contextmanager
def device_scope() -> Iterator[None]:
    """Run a stage on the job's devices: a MirroredStrategy scope over several, a plain device
    placement for one (or nothing before use_devices)."""
    if not _devices:
        yield
        return
    import tensorflow as tf

    strategy = make_strategy(_devices)
    with strategy.scope() if strategy is not None else tf.device(_devices[0]):
        yield


def init_tensorflow(
    plan: DevicePlan, seed: int, deterministic: bool, narrow: bool = True
) -> list[str]:
    """Import TensorFlow with the plan applied; seed it; return the device names in use.

    `narrow=False` (sweeps) keeps every GPU visible; see apply_device_plan.
    """
    renumbered = apply_device_plan(plan, narrow)
    with _native_stderr_to_log():
        import keras
        import tensorflow as tf

        seen = [d.name for d in tf.config.list_physical_devices("GPU")]
    devices = resolve_devices(plan, seen, renumbered)
    if plan.memory_growth:
        for gpu in tf.config.list_physical_devices("GPU"):
            # RuntimeError: already initialised (a second sweep job in the same process).
            with suppress(RuntimeError):
                tf.config.experimental.set_memory_growth(gpu, True)
    keras.mixed_precision.set_global_policy("mixed_float16" if plan.mixed_precision else "float32")
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    use_devices(devices)
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
