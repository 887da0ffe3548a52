import numpy as np
import pytest

from dtl_cli.metrics import classification_metrics, confusion_matrix


def test_confusion_matrix_rows_are_truth_columns_predictions():
    matrix = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_metrics_by_hand():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 1])
    m = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 4)
    assert m["per_class"]["c"]["f1"] == 0.0  # never predicted
    f1_b = 2 * 0.5 * 1.0 / 1.5
    assert m["macro_f1"] == pytest.approx((0.8 + f1_b + 0.0) / 3)
    assert m["confusion_matrix"][2] == [0, 1, 0]


def test_absent_class_is_left_out_of_macro_average():
    m = classification_metrics(np.array([0, 0]), np.array([0, 0]), ["a", "b"])
    assert m["macro_f1"] == 1.0 and m["per_class"]["b"]["support"] == 0
