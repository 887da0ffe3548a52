"""The dtl command line: help without TensorFlow, verbs, one-line config errors."""

import subprocess
import sys

import pytest
from conftest import REPO, dtl_executable


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def _dtl(args: list[str], cwd=None, timeout: int = 60) -> subprocess.CompletedProcess:
    """The installed `dtl ARGS` in a subprocess."""
    return subprocess.run(
        dtl_executable() + args, capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def test_help_lists_every_verb_without_importing_tensorflow_or_hydra():
    result = _python(
        "import sys\n"
        "from dtl_cli.cli import main\n"
        "code = main(['--help'])\n"
        "assert code == 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'hydra', 'gensim') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    for verb in ("pretrain", "map", "finetune", "transfer", "evaluate", "run"):
        assert f"  {verb} " in result.stdout


def test_bare_dtl_prints_usage_and_succeeds():
    result = _dtl([])
    assert result.returncode == 0 and "usage: dtl VERB" in result.stdout


def test_unknown_verb_is_one_line_and_exit_2():
    result = _dtl(["trian"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dtl: error: unknown verb 'trian'; choose one of pretrain, map, finetune, transfer, "
        "evaluate, run, report, info, store, predict, export (dtl --help)"
    ]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("mapping.methd=x", "mapping.methd is not a key of mapping"),
        ("mapping=procrus", "choose one of: linear, none, procrustes"),
        ("model.epochs=abc", "model.epochs=abc"),
        ("dataset=csv", "config key dataset.dictionary.seed has no value"),
        ("seedd=1", "seedd is not a key of the config (DtlConfig); did you mean seed?"),
    ],
)
def test_config_mistakes_fail_fast_on_one_line_naming_the_key(tmp_path, override, expected):
    result = _dtl(["run", override], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dtl: error: ")
    assert expected in lines[0]
    assert not (tmp_path / "outputs").exists() and not (tmp_path / ".dtl").exists()


def test_unknown_dictionary_script_fails_before_any_work(tmp_path):
    result = _dtl(["pretrain", "dataset.dictionary.script=t2tw"], tmp_path)
    assert result.returncode == 2
    assert "dataset.dictionary.script=t2tw must be one of auto, t2s, s2t, none" in result.stderr
    assert not (tmp_path / ".dtl").exists()  # no store entry started


def test_cfg_job_prints_the_composed_config(tmp_path):
    result = _dtl(["transfer", "mapping=linear", "--cfg", "job"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "method: linear" in result.stdout and "tokenizer: jieba" in result.stdout


def test_info_shows_versions_devices_and_the_config_choice(tmp_path):
    ok = _dtl(["info", "device=cpu"], tmp_path, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "tensorflow" in ok.stdout and "/physical_device:CPU:0" in ok.stdout
    assert "would use" in ok.stdout and "/CPU:0" in ok.stdout
    assert "every pre-flight check passes" in ok.stdout
    missing = _dtl(["info", "device=gpu", "device.gpus=[0,1]"], tmp_path, timeout=120)
    assert missing.returncode == 2 and "asks for 2 GPU(s)" in " ".join(missing.stdout.split())


def test_sweep_with_cfg_is_one_line_not_a_traceback(tmp_path):
    result = _dtl(["run", "-m", "mapping=linear,procrustes", "--cfg", "job"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "dtl: error: -m runs a sweep, --cfg/--info show one config: drop -m, or one of them"
    ]
