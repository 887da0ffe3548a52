"""Launcher presets compose: Hydra's own (joblib, submitit_local, submitit_slurm) and dtl's."""

from __future__ import annotations

import subprocess

import pytest
from conftest import dtl_executable
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from dtl_cli.hydra_app import CONFIG_MODULE

LAUNCHERS = {
    "joblib": "JoblibLauncher",
    "submitit_local": "LocalLauncher",
    "submitit_slurm": "SlurmLauncher",
    "slurm_gpu": "SlurmLauncher",
}


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_launcher_preset_composes(launcher):
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"hydra/launcher={launcher}", "hydra.job.name=run"],
            return_hydra_config=True,
        )
    launch = cfg.hydra.launcher
    assert launch._target_.endswith(LAUNCHERS[launcher])
    # every value resolves (the sweep folder needs a time; the rest must not be missing)
    assert not OmegaConf.missing_keys(launch)
    if launcher == "slurm_gpu":
        assert launch.gpus_per_node == 1 and launch.tasks_per_node == 1
        assert launch.cpus_per_task > 0 and launch.mem_gb > 0 and launch.timeout_min > 0
        assert launch.partition is None  # the user's cluster decides


def test_slurm_gpu_preset_from_the_command_line(tmp_path):
    result = subprocess.run(
        dtl_executable()
        + ["run", "--cfg", "hydra", "hydra/launcher=slurm_gpu", "hydra.launcher.partition=gpu"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    launcher = OmegaConf.create(result.stdout).hydra.launcher
    assert launcher.partition == "gpu" and launcher.gpus_per_node == 1
    assert launcher._target_.endswith("SlurmLauncher")


def test_check_sweep_tries_every_value_of_every_swept_key():
    from dtl_cli.hydra_app import check_sweep

    ok = ["mapping=linear,procrustes", "evaluation.k=0,20", "hydra.launcher.n_jobs=2"]
    assert check_sweep(ok) is None
    assert check_sweep(["seed=range(0,3)", "model.epochs=3"]) is None
    problem = check_sweep(["mapping=linear", "model.epochs=3,abc", "seed=0,1"])
    assert "model.epochs=abc" in problem and problem.endswith("no job was started)")
    assert "mapping/bogus" in check_sweep(["evaluation.k=0,20", "mapping=procrustes,bogus"])
    assert check_sweep(["mapping=glob(*)"]) is None  # left to Hydra
