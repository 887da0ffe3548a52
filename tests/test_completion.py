"""Shell completion: verbs first, then Hydra's completion of groups and keys after a verb,
driven through the real bash function that `dtl -sc install=bash` prints."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import dtl_executable

from dtl_cli.completion import after_verb, verb_choices

VERBS = ["pretrain", "map", "finetune", "transfer", "evaluate", "run", "report", "info"]


def test_verb_choices_only_for_the_first_word():
    assert verb_choices("dtl ", VERBS) == VERBS
    assert verb_choices("dtl", VERBS) == VERBS
    assert verb_choices("dtl tr", VERBS) == ["transfer"]
    assert verb_choices("dtl r", VERBS) == ["run", "report"]
    assert verb_choices("dtl run ", VERBS) is None
    assert verb_choices("dtl run map", VERBS) is None


def test_after_verb_gives_hydra_the_line_without_the_verb():
    assert after_verb("dtl run ") == ("run", "dtl ")
    assert after_verb("dtl run mapping=li") == ("run", "dtl mapping=li")
    assert after_verb("dtl transfer -m seed=0,1 mod") == ("transfer", "dtl -m seed=0,1 mod")


def _complete(line: str, tmp_path: Path) -> list[str]:
    """COMPREPLY of the installed bash completion for `line` (cursor at its end)."""
    dtl = dtl_executable()[0]
    script = subprocess.run(
        [dtl, "-sc", "install=bash"], capture_output=True, text=True, timeout=120
    )
    assert script.returncode == 0, script.stderr
    (tmp_path / "completion.sh").write_text(script.stdout)
    words = line.split() + ([""] if line.endswith(" ") else [])
    driver = f"""
source {tmp_path / "completion.sh"}
COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}; COMP_CWORD={len(words) - 1}
hydra_bash_completion
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = {**os.environ, "PATH": f"{Path(dtl).parent}:{os.environ['PATH']}"}
    out = subprocess.run(
        ["bash", "-c", driver], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_bash_completes_verbs_then_groups_options_and_keys(tmp_path):
    assert _complete("dtl tra", tmp_path) == ["transfer"]
    groups = _complete("dtl run ", tmp_path)
    assert {"mapping=", "model=", "experiment=", "seed="} <= set(groups)
    assert set(_complete("dtl run mapping=", tmp_path)) == {
        "mapping=linear",
        "mapping=none",
        "mapping=procrustes",
        "mapping=self_learning",
    }
    assert _complete("dtl transfer experiment=ti", tmp_path) == ["experiment=tiny_curve"]
    assert _complete("dtl run mapping.whi", tmp_path) == ["mapping.whiten="]


def test_zsh_install_and_bad_subcommand():
    dtl = dtl_executable()[0]
    zsh = subprocess.run([dtl, "-sc", "install=zsh"], capture_output=True, text=True, timeout=120)
    assert zsh.returncode == 0 and "bashcompinit" in zsh.stdout
    assert "complete -o nospace -o default -F hydra_bash_completion dtl" in zsh.stdout
    bad = subprocess.run([dtl, "-sc"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("dtl: error: -sc needs")
    # after a verb too (Hydra's own flag position), instead of "Could not override 'install'"
    after = subprocess.run(
        [dtl, "run", "-sc", "install=bash"], capture_output=True, text=True, timeout=120
    )
    assert after.returncode == 0 and "hydra_bash_completion dtl" in after.stdout
