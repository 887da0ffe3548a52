"""Every option of every config group composes with the schema, and the schema catches typos."""

from pathlib import Path

import pytest
from conftest import REPO
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from dtl_cli.schema import register

register()
GROUPS = ("dataset", "embedding", "mapping", "model", "evaluation", "device")
OPTIONS = [
    (group, path.stem)
    for group in GROUPS
    for path in sorted((REPO / "configs" / group).glob("*.yaml"))
]


def _compose(overrides: list[str]):
    with initialize_config_module(config_module="dtl_cli.configs", version_base="1.3"):
        return compose("config", overrides=overrides)


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_each_option_composes(group, option):
    cfg = _compose([f"{group}={option}"])
    node = OmegaConf.select(cfg, group)
    assert node is not None
    if group in ("mapping", "embedding"):
        assert node.method == option
    # Every key is resolvable or explicitly left for the user (???).
    resolved = OmegaConf.to_container(cfg, resolve=False)
    assert resolved[group]


def test_tiny_dataset_paths_point_at_shipped_files():
    cfg = _compose([])
    for path in (
        cfg.dataset.source.train.path,
        cfg.dataset.target.test.path,
        cfg.dataset.dictionary.seed,
        *cfg.dataset.target.unlabelled,
    ):
        assert Path(path).is_file(), path


def test_schema_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(Exception, match="methd"):
        _compose(["mapping.methd=x"])
    with pytest.raises(Exception, match="epochs"):
        _compose(["model.epochs=many"])


def test_device_gpu_list_override():
    cfg = _compose(["device=gpu", "device.gpus=[0,1]"])
    assert list(cfg.device.gpus) == [0, 1] and cfg.device.kind == "gpu"
