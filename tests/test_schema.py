"""The schema mechanism: choices as enums, ranges on fields, one schema per option, closed keys."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from omegaconf import OmegaConf

from dtl_cli import schema
from dtl_cli.errors import ConfigError
from dtl_cli.hydra_app import compose_config


def _values(enum) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def test_choices_are_the_values_the_library_accepts():
    from dtl_cli.align.learn import DIRECTIONS, METHODS
    from dtl_cli.align.multistep import DEWHITEN
    from dtl_cli.align.normalize import STEPS
    from dtl_cli.device import KINDS
    from dtl_cli.models.classifier import MODELS
    from dtl_cli.models.training import STRATEGIES
    from dtl_cli.text.readers import FORMATS
    from dtl_cli.text.tokenize import TOKENIZERS

    assert _values(schema.MappingMethod) == METHODS
    assert _values(schema.Direction) == DIRECTIONS
    assert (None, *_values(schema.Dewhiten)) == DEWHITEN
    assert _values(schema.NormalizeStep) == STEPS
    assert _values(schema.DeviceKind) == KINDS
    assert _values(schema.ModelName) == MODELS
    assert _values(schema.Strategy) == tuple(STRATEGIES)
    assert _values(schema.FileFormat) == FORMATS
    assert _values(schema.Tokenizer) == TOKENIZERS


def test_choice_members_behave_as_plain_strings():
    member = schema.ModelName.cnn
    assert member == "cnn" and f"{member}" == "cnn" and str(member) == "cnn"
    assert {"cnn": 1}[member] == 1
    import json

    assert json.dumps({"m": member}) == '{"m": "cnn"}'


@pytest.mark.parametrize(
    ("bounds", "good", "bad", "text"),
    [
        ({"ge": 0, "lt": 1}, [0, 0.5], [1, -0.1, float("nan"), True, "x"], "in [0, 1)"),
        ({"ge": 1}, [1, 10**9], [0, -3], ">= 1"),
        ({"gt": 0}, [1e-9], [0, -1], "> 0"),
        ({"gt": 0, "le": 1}, [1, 0.1], [0, 1.5], "in (0, 1]"),
        ({"ge": 0, "whole": True, "words": ("all",)}, [0, 5, "all"], [-3, "few", 2.5], "'all'"),
    ],
)
def test_range_accepts_and_describes(bounds, good, bad, text):
    rng = schema.Range(**bounds)
    assert all(rng.accepts(v) for v in good)
    assert not any(rng.accepts(v) for v in bad)
    assert text in rng.describe()


def _schemas() -> list[type]:
    found = [v for v in vars(schema).values() if isinstance(v, type)]
    return [v for v in found if dataclasses.is_dataclass(v) and v is not schema.Range]


def test_every_number_in_every_schema_has_a_range():
    """New keys get a range (schema.number) or are a Choice: nothing unchecked slips in."""
    unchecked = []
    for cls in _schemas():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = hints[f.name]
            numeric = {int, float} & set(typing.get_args(kind) or (kind,))
            inner = typing.get_args(kind)
            if typing.get_origin(kind) in (list, dict):
                numeric = {int, float} & set(inner)
            if numeric and "range" not in schema.schema_fields(OmegaConf.structured(cls))[f.name]:
                unchecked.append(f"{cls.__name__}.{f.name}")
    assert unchecked == []


def test_each_option_has_its_own_schema_and_self_learning_builds_on_procrustes():
    assert schema.is_a(compose_config(["mapping=linear"]).mapping, schema.LinearMapping)
    sl = compose_config(["mapping=self_learning"]).mapping
    assert schema.is_a(sl, schema.SelfLearningMapping) and schema.is_a(sl, schema.ProcrustesMapping)
    assert "whiten" in sl and "ridge" not in sl
    cnn = compose_config(["model=cnn"]).model
    assert schema.is_a(cnn, schema.CnnModel) and cnn.epochs == 20 and "lstm_units" not in cnn
    assert "source_vectors" not in compose_config([]).embedding


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.dropout=1.5"], "model.dropout=1.5 must be in [0, 1)"),
        (["model.batch_size=0"], "model.batch_size=0 must be >= 1"),
        (["model=cnn", "model.epochs=0"], "model.epochs=0 must be >= 1"),  # inherited range
        (["evaluation.k=[0,-1]"], "evaluation.k[1]=-1 must be a whole number >= 0 or 'all'"),
        (["model.finetune.learning_rates.full=0"], "learning_rates.full=0.0 must be > 0"),
        (["+model.epohcs=3"], "model.epohcs is not a key of model (DanModel); did you mean"),
        (["model=cnn", "model.name=bilstm"], "choose the option instead: model=bilstm"),
    ],
)
def test_check_config_names_the_key_and_the_range(overrides, message):
    with pytest.raises(ConfigError) as err:
        compose_config(overrides)
    assert message in str(err.value)


def test_yaml_options_hold_only_what_differs_from_their_schema():
    from conftest import REPO

    for path in sorted((REPO / "configs").glob("*/*.yaml")):
        group, option = path.parent.name, path.stem
        if group not in schema.OPTIONS:
            continue
        text = path.read_text()
        assert "defaults:" in text and f"/schema/{group}/" in text, path
        body = OmegaConf.load(path)
        cls = schema.OPTIONS[group].get(option) or schema.OPTIONS[group]["base"]
        defaults = OmegaConf.structured(cls)
        for key in body:
            if key != "defaults" and not OmegaConf.is_missing(body, key):
                assert body[key] != defaults.get(key), f"{path}: {key} repeats its schema default"
