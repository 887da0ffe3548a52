"""Named experiments (configs/experiment/) and `--config-dir` in dtl's own pre-check."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dtl_cli.errors import ConfigError
from dtl_cli.hydra_app import check_overrides, compose_config, with_config_dir

EXPERIMENTS = Path(__file__).resolve().parents[1] / "configs" / "experiment"


def test_every_shipped_experiment_is_global_and_composes():
    names = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))
    assert {"tiny_curve", "own_csv", "vecmap"} <= set(names)
    for name in names:
        assert (EXPERIMENTS / f"{name}.yaml").read_text().startswith("# @package _global_")
    curve = compose_config(["experiment=tiny_curve"])
    assert list(curve.evaluation.k) == [0, 10, 50, 200, "all"] and curve.evaluation.repeats == 3
    assert curve.dataset.name == "tiny"
    vecmap = compose_config(["experiment=vecmap"])
    assert vecmap.mapping.whiten and vecmap.mapping.src_dewhiten == "src"
    assert vecmap.mapping.src_reweight == vecmap.mapping.trg_reweight == 0.5
    # the command line still wins over the experiment
    assert not compose_config(["experiment=vecmap", "mapping.whiten=false"]).mapping.whiten


def test_own_csv_template_names_the_paths_left_to_fill():
    with pytest.raises(ConfigError, match="dataset.dictionary.seed has no value"):
        compose_config(["experiment=own_csv"])
    paths = {
        "dataset.source.train.path": "en.csv",
        "dataset.target.train.path": "zh_train.csv",
        "dataset.target.test.path": "zh_test.csv",
        "dataset.dictionary.seed": "seed.txt",
        "dataset.dictionary.test": "test.txt",
    }
    cfg = compose_config(["experiment=own_csv", *(f"{k}={v}" for k, v in paths.items())])
    assert cfg.dataset.name == "csv" and list(cfg.evaluation.k) == [0, 10, 50, 200, 1000]


def test_no_experiment_by_default_keeps_the_plain_defaults():
    cfg = compose_config([])
    assert cfg.evaluation.k == 0 and not cfg.mapping.whiten


@pytest.fixture
def config_dir(tmp_path):
    folder = tmp_path / "conf" / "experiment"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text("# @package _global_\nseed: 7\nmodel:\n  epochs: 2\n")
    return tmp_path / "conf"


def test_precheck_honours_config_dir(config_dir):
    assert "Could not find 'experiment/mine'" in check_overrides(["experiment=mine"])
    assert check_overrides(["--config-dir", str(config_dir), "experiment=mine"]) is None
    assert check_overrides([f"--config-dir={config_dir}", "experiment=mine"]) is None
    sweep = ["-m", "--config-dir", str(config_dir), "experiment=mine,bogus"]
    problem = check_overrides(sweep)
    assert "experiment/bogus" in problem and "mine" in problem  # found mine, not bogus
    assert check_overrides(["--config-dir", "no/such/dir", "seed=1"]).startswith("--config-dir")


def test_with_config_dir_for_verbs_without_hydra_command_lines(config_dir):
    overrides = with_config_dir(["-cd", str(config_dir), "experiment=mine"])
    cfg = compose_config(overrides)
    assert cfg.seed == 7 and cfg.model.epochs == 2
    assert OmegaConf.select(cfg, "experiment") is None  # a group of differences, not a key
    with pytest.raises(ConfigError, match="needs a folder"):
        with_config_dir(["--config-dir"])
