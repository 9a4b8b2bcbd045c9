"""Accuracy metrics (known answers), evaluation of one model, and cost metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lethe.metrics.accuracy import accuracy, confusion_matrix
from lethe.metrics.evaluate import cost_metrics, evaluate_model
from lethe.metrics.predict import logits, predictions

ACCURACIES = ("acc_forget", "acc_retain", "acc_test", "acc_test_retained", "acc_test_forgotten")
# Each accuracy with Wilson's interval over its samples (_lo, _hi).
METRIC_KEYS = {*ACCURACIES, *(f"{a}_{side}" for a in ACCURACIES for side in ("lo", "hi")), "outputs_finite"}


# --------------------------------------------------------------------------- pure functions


def test_accuracy_known_answers():
    assert accuracy(np.array([0, 1, 2]), np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy([1, 1, 1, 1], [1, 1, 1, 1]) == 1.0
    assert accuracy([0, 0], [1, 1]) == 0.0
    assert isinstance(accuracy([0], [0]), float)


def test_accuracy_of_nothing_is_none():
    assert accuracy(np.array([], dtype=np.int64), np.array([], dtype=np.int64)) is None
    assert accuracy([], []) is None


def test_confusion_matrix_known_answer():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    counts = confusion_matrix(y_true, y_pred, 3)
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == len(y_true)
    np.testing.assert_array_equal(confusion_matrix([], [], 4), np.zeros((4, 4), dtype=np.int64))
    # Classes absent from both vectors still get their rows and columns.
    assert confusion_matrix([1], [1], 5).shape == (5, 5)


# --------------------------------------------------------------------------- evaluate_model


def test_predictions_are_batched_consistently(original_mlp, digits):
    whole = logits(original_mlp, digits.test, batch_size=1024)
    small = logits(original_mlp, digits.test, batch_size=7)
    assert whole.shape == (450, 10)
    np.testing.assert_allclose(whole.numpy(), small.numpy(), rtol=1e-5, atol=1e-5)
    assert predictions(original_mlp, digits.test).tolist() == whole.argmax(1).tolist()


def test_evaluate_original_on_class3(original_mlp, digits, forget_class3):
    result = evaluate_model(original_mlp, digits, forget_class3, full=False)
    metrics = result["metrics"]
    assert set(metrics) == METRIC_KEYS
    # Measured: acc_forget 1.000, acc_retain 0.998, acc_test 0.978, retained 0.978, forgotten 0.978.
    assert metrics["acc_forget"] >= 0.98
    assert metrics["acc_retain"] >= 0.97
    assert metrics["acc_test"] >= 0.94
    assert metrics["acc_test_forgotten"] >= 0.9
    confusion = np.array(result["confusion_test"])
    assert confusion.shape == (10, 10) and confusion.sum() == 450
    assert np.trace(confusion) / 450 == pytest.approx(metrics["acc_test"])
    assert result["eval_seconds"] >= 0
    # acc_test is the size-weighted mean of the retained- and forgotten-class parts.
    n_forgotten = int((digits.test.y == 3).sum())
    weighted = (metrics["acc_test_forgotten"] * n_forgotten + metrics["acc_test_retained"] * (450 - n_forgotten)) / 450
    assert weighted == pytest.approx(metrics["acc_test"])


def test_zero_output_lowers_forgotten_class_test_accuracy(unlearned_class3, digits, forget_class3, original_metrics):
    model, _ = unlearned_class3["zero_output"]
    metrics = evaluate_model(model, digits, forget_class3, full=False)["metrics"]
    # Measured: 0.109 after zeroing, 0.978 before.
    assert metrics["acc_test_forgotten"] < original_metrics["acc_test_forgotten"] - 0.5
    assert metrics["acc_test_forgotten"] < 0.35


def test_random_samples_have_no_forgotten_classes(original_mlp, digits, forget_random):
    metrics = evaluate_model(original_mlp, digits, forget_random, full=False)["metrics"]
    assert metrics["acc_test_forgotten"] is None
    assert metrics["acc_test_retained"] == metrics["acc_test"]
    assert metrics["acc_forget"] >= 0.98  # measured 1.000: the original trained on them


def test_full_evaluation_tells_hiding_from_forgetting(unlearned_class3, original_mlp, digits, forget_class3):
    """Every metric family is computed from one evaluation; zero_output hides, retrain forgot.

    Measured on digits class 3 (seed 0): few-shot probe on the forgotten class 0.926 for
    zero_output (exactly the original's: same hidden layers) vs 0.857 for retrain; relearn
    11 epochs vs 30; JS to retrain 0 for retrain itself.
    """
    retrain, _ = unlearned_class3["retrain"]
    zero, _ = unlearned_class3["zero_output"]
    from lethe.metrics.distance import random_model

    reference = random_model("mlp", (1, 8, 8), 10, 0)
    results = {
        name: evaluate_model(model, digits, forget_class3, original=original_mlp, retrain=retrain, random=reference)
        for name, model in (("original", original_mlp), ("zero_output", zero), ("retrain", retrain))
    }
    m = {name: r["metrics"] for name, r in results.items()}
    for family in (
        "mia_entropy",
        "mia_efficacy",
        "mia_loss_auc",
        "probe_fewshot_acc_forgotten",
        "relearn_epochs",
        "js_to_retrain",
        "zrf",
    ):
        assert all(m[name][family] is not None for name in m), family
    assert set(results["zero_output"]["eval_seconds_by_family"]) == {"mia", "probe", "distance", "relearn"}
    # Hidden, not forgotten: zero_output's hidden layers are the original's.
    assert m["zero_output"]["probe_fewshot_acc_forgotten"] == pytest.approx(
        m["original"]["probe_fewshot_acc_forgotten"]
    )
    assert m["zero_output"]["probe_fewshot_acc_forgotten"] > m["retrain"]["probe_fewshot_acc_forgotten"] + 0.03
    assert m["zero_output"]["acc_test_forgotten"] < 0.35
    assert m["original"]["relearn_epochs"] == 0
    assert m["retrain"]["relearn_epochs"] > m["zero_output"]["relearn_epochs"]
    # The per-epoch relearn curve sits beside the scalar metrics (tidy tables stay numeric).
    assert all("relearn_curve" not in metrics for metrics in m.values())
    for name, result in results.items():
        assert len(result["relearn_curve"]) == m[name]["relearn_epochs"] + 1
    assert m["retrain"]["js_to_retrain"] == pytest.approx(0.0, abs=1e-9)
    assert m["retrain"]["agreement_with_retrain"] == 1.0


def test_destroyed_model_gets_accuracies_only(original_mlp, digits, forget_class3):
    """NaN weights (a diverged gradient ascent) must not crash evaluation."""
    import copy

    broken = copy.deepcopy(original_mlp)
    with torch.no_grad():
        broken.head.weight.fill_(float("nan"))
    result = evaluate_model(broken, digits, forget_class3, original=original_mlp)
    metrics = result["metrics"]
    assert metrics["outputs_finite"] == 0.0
    assert metrics["acc_retain"] < 0.2
    assert "mia_entropy" not in metrics and result["eval_seconds_by_family"] == {}
    assert result["relearn_curve"] is None


# --------------------------------------------------------------------------- cost


def test_cost_metrics():
    assert cost_metrics(None, {"seconds": 2.0, "steps": 10}) == {
        "unlearn_seconds": None,
        "unlearn_steps": None,
        "time_ratio_to_retrain": None,
        "weight_change": None,
        "unchanged": None,
        "diverged": None,
    }
    cost = cost_metrics({"seconds": 0.5, "steps": 20}, {"seconds": 2.0, "steps": 1140})
    assert cost == {
        "unlearn_seconds": 0.5,
        "unlearn_steps": 20,
        "time_ratio_to_retrain": pytest.approx(0.25),
        "weight_change": None,
        "unchanged": None,
        "diverged": None,  # a record without the weight measurements
    }
    weights = {"changed_fraction": 0.5, "relative_distance": 0.1, "unchanged": False}
    moved = cost_metrics({"seconds": 0.5, "steps": 20, "weights": weights}, None)
    assert (moved["weight_change"], moved["unchanged"], moved["diverged"]) == (0.1, 0.0, None)
    broken = cost_metrics({"seconds": 0.5, "steps": 20, "weights": {**weights, "diverged": True}}, None)
    assert broken["diverged"] == 1.0
    assert cost_metrics({"seconds": 2.0, "steps": 1}, {"seconds": 2.0, "steps": 1})["time_ratio_to_retrain"] == 1.0
    assert cost_metrics({"seconds": 0.5, "steps": 0}, None)["time_ratio_to_retrain"] is None
    assert cost_metrics({"seconds": 0.5, "steps": 0}, {"seconds": 0.0, "steps": 0})["time_ratio_to_retrain"] is None
