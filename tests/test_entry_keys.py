"""Which override changes which store entry's key: each entry hashes only what it reads."""

import shutil

import pytest
from conftest import TINY

from dtl_cli.hydra_app import compose_config
from dtl_cli.stages import entries

SHOT = [(0, 0)]
CORPORA = {"corpus[source]", "corpus[target]", "corpus[target_test]"}
ALL = set(entries.all_keys(compose_config([]), SHOT))
BELOW_CLASSIFIER = {"classifier", "adapted", "finetune[0,0]", "baseline[0,0]"}
BELOW_MAP = {"map", "bli", "adapted", "finetune[0,0]"}
TARGET_SPACE = {"embeddings[target]", "map", "bli", "adapted", "finetune[0,0]", "baseline[0,0]"}


def _copy(tmp_path, name, edit: bool = True):
    """A copy of a tiny-corpus file elsewhere (a new path and modification time); with
    `edit`, its last line dropped."""
    copy = tmp_path / f"other_{name}"
    shutil.copy(TINY / name, copy)
    if edit:
        lines = copy.read_text(encoding="utf-8").splitlines(keepends=True)
        copy.write_text("".join(lines[:-1]), encoding="utf-8")
    return str(copy)


# (overrides, entries whose keys change); a callable builds overrides from tmp_path.
CASES = [
    (["model.epochs=10"], BELOW_CLASSIFIER),
    (["model=cnn"], BELOW_CLASSIFIER),
    (["model.max_len=256"], BELOW_CLASSIFIER),
    (["model.max_len_percentile=90"], BELOW_CLASSIFIER),
    (["model.finetune.epochs=5"], {"finetune[0,0]"}),
    (["model.finetune.adapt.label_shift=none"], {"adapted", "finetune[0,0]", "baseline[0,0]"}),
    (["mapping=linear"], BELOW_MAP),
    (["mapping.seed=identical"], BELOW_MAP),
    # The map itself does not change: only the entries that read the carried vectors.
    (["mapping.carry_normalize=true"], {"bli", "adapted", "finetune[0,0]"}),
    (["mapping.carry_normalize=false"], set()),
    (["dataset.dictionary.script=none"], BELOW_MAP),
    (["evaluation.bli.precision_at=[1]"], {"bli"}),
    (["evaluation.bli.csls_k=5"], {"bli"}),
    (["evaluation.repeats=3", "evaluation.k=[0]"], set()),
    (["device=cpu"], set()),
    (["evaluation.dev_fraction=0.2"], {"finetune[0,0]", "baseline[0,0]"}),
    (["evaluation.dev_fraction=0.0"], set()),
    (["evaluation.objective=bli.csls.p@1", "logger=mlflow", "experiment=vecmap"], BELOW_MAP),
    (["embedding.transductive=true"], TARGET_SPACE),
    (["embedding.dim=20"], ALL - CORPORA),
    (["embedding=fasttext"], ALL - CORPORA),
    (["embedding.normalize=[unit]"], ALL - CORPORA - {"embeddings[source]", "embeddings[target]"}),
    (["seed=1"], ALL - CORPORA),
    (["dataset.target.tokenizer=chars"], TARGET_SPACE | {"corpus[target]", "corpus[target_test]"}),
    (
        ["dataset.source.lowercase=false"],
        ALL - {"corpus[target]", "corpus[target_test]"} - TARGET_SPACE
        | {"map", "bli", "adapted", "finetune[0,0]", "baseline[0,0]"},
    ),
    (lambda t: [f"dataset.target.test.path={_copy(t, 'zh_test.csv')}"], {"corpus[target_test]"}),
    (lambda t: [f"dataset.dictionary.test={_copy(t, 'dict_test.txt')}"], {"bli"}),
    (lambda t: [f"dataset.dictionary.seed={_copy(t, 'dict_seed.txt')}"], BELOW_MAP),
    # The same bytes elsewhere (a copied or re-provisioned data folder) find the same entries.
    (lambda t: [f"dataset.target.test.path={_copy(t, 'zh_test.csv', edit=False)}"], set()),
    (lambda t: [f"dataset.dictionary.seed={_copy(t, 'dict_seed.txt', edit=False)}"], set()),
    (lambda t: [f"dataset.source.train.path={_copy(t, 'en_train.csv', edit=False)}"], set()),
]


@pytest.mark.parametrize(("overrides", "changed"), CASES)
def test_an_override_changes_exactly_the_entries_that_read_it(tmp_path, overrides, changed):
    if callable(overrides):
        overrides = overrides(tmp_path)
    base = entries.all_keys(compose_config([]), SHOT)
    other = entries.all_keys(compose_config(overrides), SHOT)
    assert {name for name in base if base[name] != other[name]} == changed


def test_identical_seeds_ignore_the_seed_dictionary_file(tmp_path):
    plain = compose_config(["mapping.seed=identical"])
    other = compose_config(
        ["mapping.seed=identical", f"dataset.dictionary.seed={_copy(tmp_path, 'dict_seed.txt')}"]
    )
    assert entries.map_key(plain) == entries.map_key(other)


def test_each_k_and_repeat_has_its_own_entries_over_shared_upstream_ones():
    cfg = compose_config([])
    shots = [(0, 0), (5, 0), (5, 1), ("all", 0)]
    keys = entries.all_keys(cfg, shots)
    tuned = [keys[f"finetune[{k},{r}]"] for k, r in shots]
    base = [keys[f"baseline[{k},{r}]"] for k, r in shots]
    assert len(set(tuned)) == len(set(base)) == len(shots)
    assert keys["classifier"] == entries.all_keys(compose_config(["evaluation.k=5"]))["classifier"]


def test_a_new_version_of_a_kind_changes_its_key_and_those_below(monkeypatch):
    cfg = compose_config([])
    before = entries.all_keys(cfg, SHOT)
    monkeypatch.setitem(entries.VERSIONS, "map", entries.VERSIONS["map"] + 1)
    after = entries.all_keys(cfg, SHOT)
    assert {name for name in before if before[name] != after[name]} == BELOW_MAP
