"""Hyperparameter search: the dev split, the objective a run returns, and checks."""

from __future__ import annotations

import numpy as np
import pytest

from dtl_cli.errors import ConfigError
from dtl_cli.objective import check_objective, objective_value, parse_objective
from dtl_cli.splits import dev_split


def test_dev_split_is_stratified_disjoint_and_deterministic():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    dev, rest = dev_split(labels, 0.2, seed=3)
    assert np.bincount(labels[dev]).tolist() == [10, 6, 4]
    assert not set(dev) & set(rest) and len(dev) + len(rest) == len(labels)
    assert np.all(np.diff(dev) > 0) and np.all(np.diff(rest) > 0)
    again, _ = dev_split(labels, 0.2, seed=3)
    other, _ = dev_split(labels, 0.2, seed=4)
    assert np.array_equal(dev, again) and not np.array_equal(dev, other)


def test_dev_split_edge_cases():
    labels = np.array([0, 0, 0, 1, 1, 2])
    dev, rest = dev_split(labels, 0.0, seed=0)
    assert len(dev) == 0 and rest.tolist() == list(range(6))
    dev, rest = dev_split(labels, 0.01, seed=0)  # every label with two examples gives one
    assert sorted(labels[dev].tolist()) == [0, 1] and 5 in rest  # the lone 2 stays in the pool
    with pytest.raises(ValueError):
        dev_split(labels, 1.0, seed=0)


def test_k_shot_samples_never_come_from_the_dev_split():
    from dtl_cli.stages.finetune import k_shot_sample

    labels = np.repeat([0, 1], 50)
    pre = labels
    dev, _ = dev_split(labels, 0.3, seed=0)
    for repeat in range(3):
        sample = k_shot_sample(pre, 20, repeat, seed=0, dev_fraction=0.3)
        assert len(sample) == 20 and not set(sample) & set(dev)
        assert np.bincount(labels[sample]).tolist() == [10, 10]
    everything = k_shot_sample(pre, "all", 0, seed=0, dev_fraction=0.3)
    assert len(everything) == 100 - len(dev)
    with pytest.raises(ConfigError, match="only 70 examples"):
        k_shot_sample(pre, 80, 0, seed=0, dev_fraction=0.3)
    # without a dev split the sample is what it always was
    plain = k_shot_sample(pre, 20, 0, seed=0)
    from dtl_cli.models.training import stratified_sample

    assert np.array_equal(plain, stratified_sample(labels, 20, seed=0))


METRICS = {
    "curve": [
        {"k": 0, "dev": {"transfer": {"accuracy": 0.5, "macro_f1": 0.4}}},
        {
            "k": 50,
            "dev": {
                "transfer": {"accuracy": 0.8, "macro_f1": 0.75},
                "baseline": {"accuracy": 0.7, "macro_f1": 0.6},
                "gain": {"accuracy": 0.1, "macro_f1": 0.15},
            },
        },
    ],
    "bli": {"csls": {"p@1": 0.9}},
}


def test_objective_names_and_values():
    assert objective_value(parse_objective("dev_macro_f1@50"), METRICS, None) == 0.75
    assert objective_value(parse_objective("dev_accuracy"), METRICS, None) == 0.8  # largest k
    assert objective_value(parse_objective("dev_accuracy@0"), METRICS, None) == 0.5
    assert objective_value(parse_objective("dev_gain_macro_f1@50"), METRICS, None) == 0.15
    assert objective_value(parse_objective("bli.csls.p@1"), METRICS, None) == 0.9
    assert objective_value(parse_objective("bli.csls.p@1"), {}, {"csls": {"p@1": 0.3}}) == 0.3
    with pytest.raises(ConfigError, match="k=10 is not in"):
        objective_value(parse_objective("dev_accuracy@10"), METRICS, None)
    with pytest.raises(ConfigError, match="needs a dev split"):
        objective_value(parse_objective("dev_accuracy"), {"curve": [{"k": 0}]}, None)


def test_objective_checks_before_any_work():
    with pytest.raises(ConfigError, match="never tuned on"):
        parse_objective("test_accuracy")
    with pytest.raises(ConfigError, match="is not an objective"):
        parse_objective("dev_f1")
    with pytest.raises(ConfigError, match="set evaluation.dev_fraction"):
        check_objective("dev_accuracy", "run", 0.0)
    with pytest.raises(ConfigError, match="needs the evaluate stage"):
        check_objective("dev_accuracy", "transfer", 0.2)
    with pytest.raises(ConfigError, match=r"dev_fraction=1.5"):
        check_objective(None, "run", 1.5)
    assert check_objective(None, "run", 0.0) is None
    assert check_objective("bli.nn.p@5", "transfer", 0.0).metric == "p@5"
