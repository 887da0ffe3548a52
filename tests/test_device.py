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
