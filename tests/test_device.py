import sys

import pytest

from dtl_cli.device import apply_device_plan, plan_devices, resolve_devices
from dtl_cli.errors import ConfigError, DeviceError

TWO_GPUS = ["/physical_device:GPU:0", "/physical_device:GPU:1"]


@pytest.fixture(autouse=True)
def _tensorflow_not_imported_yet(monkeypatch):
    """Visibility is only set before TensorFlow's import; other tests may have imported it."""
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)


def test_cpu_hides_every_gpu(monkeypatch):
    plan = plan_devices("cpu", [0, 1])
    assert plan.gpus == () and plan.visible_devices == "-1"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    apply_device_plan(plan)
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "-1"
    assert resolve_devices(plan, TWO_GPUS) == ["/CPU:0"]


def test_gpu_selection_sets_visibility_and_uses_the_chosen_count(monkeypatch):
    plan = plan_devices("gpu", [1])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    apply_device_plan(plan)
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    # With CUDA_VISIBLE_DEVICES=1 TensorFlow renumbers the one visible GPU as GPU:0.
    assert resolve_devices(plan, TWO_GPUS[:1]) == ["/GPU:0"]
    assert resolve_devices(plan_devices("gpu", [0, 1]), TWO_GPUS) == ["/GPU:0", "/GPU:1"]


def test_auto_uses_gpus_when_present_else_cpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    plan = plan_devices("auto", [])
    apply_device_plan(plan)
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"  # auto leaves the user's choice alone
    assert resolve_devices(plan, TWO_GPUS) == ["/GPU:0", "/GPU:1"]
    assert resolve_devices(plan, []) == ["/CPU:0"]


def test_missing_gpu_is_a_clear_error_unless_fallback_cpu():
    with pytest.raises(DeviceError, match=r"device.gpus=\[0,1\].*sees 1.*device.fallback=cpu"):
        resolve_devices(plan_devices("gpu", [0, 1], fallback="error"), TWO_GPUS[:1])
    assert resolve_devices(plan_devices("gpu", [0], fallback="cpu"), []) == ["/CPU:0"]


@pytest.mark.parametrize(
    ("kind", "gpus", "fallback", "message"),
    [
        ("tpu", [], "cpu", "device.kind='tpu'"),
        ("gpu", [], "error", "device.gpus"),
        ("gpu", [-1], "error", "device.gpus"),
        ("gpu", [0], "maybe", "device.fallback"),
    ],
)
def test_bad_requests_name_the_key(kind, gpus, fallback, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        plan_devices(kind, gpus, fallback)


def test_later_sweep_job_picks_its_gpu_by_name_when_visibility_is_fixed():
    # TensorFlow already imported by an earlier job: every GPU stays visible.
    plan = plan_devices("gpu", [1])
    assert resolve_devices(plan, TWO_GPUS, renumbered=False) == ["/GPU:1"]
    with pytest.raises(DeviceError, match="device.gpus=\\[2\\]"):
        resolve_devices(plan_devices("gpu", [2], "error"), TWO_GPUS, renumbered=False)


def test_apply_leaves_visibility_alone_once_tensorflow_is_imported(monkeypatch):
    import os

    monkeypatch.setitem(sys.modules, "tensorflow", object())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert apply_device_plan(plan_devices("gpu", [1])) is False
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"


_MIRRORED = """
import numpy as np, tensorflow as tf, keras
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
from dtl_cli import device
from dtl_cli.models.classifier import Architecture, build_classifier
from dtl_cli.models.training import fit_classifier, predict_classes
device.use_devices(["/CPU:0", "/CPU:1"])
rng = np.random.default_rng(0)
matrix = rng.normal(size=(12, 4)).astype("float32")
ids = rng.integers(2, 12, size=(64, 5)).astype("int32")
labels = (ids[:, 0] < 7).astype("int64")
with device.device_scope():
    strategy = tf.distribute.get_strategy()
    print("STRATEGY", type(strategy).__name__, strategy.num_replicas_in_sync)
    keras.utils.set_random_seed(0)
    model = build_classifier(Architecture(hidden=(8,), dropout=0.0), matrix, 2)
    history = fit_classifier(model, ids, labels, epochs=3, batch_size=16, learning_rate=0.05,
                             validation_split=0.0, patience=1, seed=0)
print("LOSS", history["loss"][0], history["loss"][-1])
print("PRED", len(predict_classes(model, ids)))
"""


def test_mirrored_strategy_trains_over_two_logical_cpus():
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", _MIRRORED], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "STRATEGY MirroredStrategy 2" in result.stdout
    first, last = (float(x) for x in result.stdout.split("LOSS ")[1].split()[:2])
    assert last < first
    assert "PRED 64" in result.stdout


def test_sweep_jobs_in_one_process_each_get_the_gpu_they_ask_for(monkeypatch):
    """Basic launcher: job 0 asks for GPU 0, job 1 for GPU 1, in one process (TF imported)."""
    import tensorflow as tf

    from dtl_cli import device

    fake = [tf.config.PhysicalDevice(name, "GPU") for name in TWO_GPUS]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: fake)
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, on: None)
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: None)
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    first = device.init_tensorflow(plan_devices("gpu", [0]), 0, True, narrow=False)
    second = device.init_tensorflow(plan_devices("gpu", [1]), 0, True, narrow=False)
    both = device.init_tensorflow(plan_devices("gpu", [0, 1]), 0, True, narrow=False)
    cpu = device.init_tensorflow(plan_devices("cpu", []), 0, True, narrow=False)
    assert (first, second, both, cpu) == (["/GPU:0"], ["/GPU:1"], ["/GPU:0", "/GPU:1"], ["/CPU:0"])
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"  # never narrowed inside a sweep
    device.use_devices([])
