"""`embedding.workers`: 1 (deterministic, the default), a thread count, or auto."""

import pytest

from dtl_cli.errors import ConfigError
from dtl_cli.hydra_app import compose_config
from dtl_cli.stages import pretrain
from dtl_cli.text.parallel import available_cores


def test_auto_is_every_core_and_says_once_that_it_is_not_reproducible(capsys, monkeypatch):
    monkeypatch.setattr(pretrain, "_SAID_AUTO", [])
    assert pretrain.word2vec_workers(1) == 1 and pretrain.word2vec_workers(3) == 3
    assert capsys.readouterr().out == ""
    assert pretrain.word2vec_workers("auto") == available_cores()
    assert pretrain.word2vec_workers("auto") == available_cores()
    out = capsys.readouterr().out
    assert out.count("not bit-reproducible") == 1


def test_default_is_one_worker():
    assert compose_config([]).embedding.workers == 1


@pytest.mark.parametrize("value", ["0", "many", "true", "1.5"])
def test_bad_workers_fail_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"embedding.workers=.* must be a whole number >= 1"):
        compose_config([f"embedding.workers={value}"])
    assert compose_config(["embedding.workers=auto"]).embedding.workers == "auto"
