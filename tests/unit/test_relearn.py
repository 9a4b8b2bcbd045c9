"""Relearn time R_t on digits class 3: known answers and the recipe's bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lethe.data.forget_sets import retain_indices
from lethe.metrics.relearn import DEFAULT_RELEARN, anamnesis_index, relearn_params, relearn_split, relearn_time


@pytest.fixture(scope="module")
def forget_split(digits, forget_class3):
    return digits.train.subset(forget_class3["indices"])


@pytest.fixture(scope="module")
def retain_split(digits, forget_class3):
    return digits.train.subset(retain_indices(forget_class3, len(digits.train)))


@pytest.fixture(scope="module")
def target(original_metrics) -> float:
    return original_metrics["acc_forget"]  # measured: 1.000


def test_relearn_params_defaults_and_validation():
    assert relearn_params(None) == DEFAULT_RELEARN
    assert relearn_params({"lr": 0.01})["lr"] == 0.01
    with pytest.raises(ValueError, match="unknown parameters"):
        relearn_params({"learning_rate": 0.01})
    with pytest.raises(ValueError, match="evaluate_on"):
        relearn_params({"evaluate_on": "test"})


def test_relearn_split_sizes_and_seed(forget_split):
    params = relearn_params(None)
    train, evaluate = relearn_split(forget_split, params, seed=0)
    assert len(train) == round(0.1 * len(forget_split)) == 12
    assert len(train) + len(evaluate) == len(forget_split)
    again, _ = relearn_split(forget_split, params, seed=0)
    assert torch.equal(train.x, again.x)
    other, _ = relearn_split(forget_split, params, seed=1)
    assert not torch.equal(train.x, other.x)
    # Held out: no relearn sample is evaluated.
    flat = lambda split: {tuple(row) for row in split.x.flatten(1).tolist()}  # noqa: E731
    assert not flat(train) & flat(evaluate)
    train, evaluate = relearn_split(forget_split, relearn_params({"count": 5, "evaluate_on": "all"}), seed=0)
    assert len(train) == 5 and len(evaluate) == len(forget_split)
    with pytest.raises(ValueError, match="relearn samples"):
        relearn_split(forget_split, relearn_params({"count": len(forget_split)}), seed=0)


def test_original_relearns_in_zero_epochs(original_mlp, forget_split, target):
    result = relearn_time(original_mlp, forget_split, target, None, seed=0)
    assert result["relearn_epochs"] == 0
    assert result["relearn_steps"] == 0
    assert result["relearn_curve"] == [result["relearn_acc_start"]]
    assert result["relearn_reached"] is True
    assert result["relearn_acc_start"] >= result["relearn_target"]


def test_zero_output_relearns_faster_than_retrain(unlearned_class3, forget_split, retain_split, target):
    """Measured (seed 0): zero_output 12 epochs (12 steps), retrain 28; neggrad 13, finetune 2."""
    results = {
        method: relearn_time(unlearned_class3[method][0], forget_split, target, None, seed=0, retain_split=retain_split)
        for method in ("zero_output", "retrain", "finetune")
    }
    for result in results.values():
        assert result["relearn_reached"] is True
        assert result["relearn_acc_end"] >= target - DEFAULT_RELEARN["tolerance"]
        # One relearn batch per epoch (14 samples, batch 32).
        assert result["relearn_steps"] == result["relearn_epochs"]
        # The curve: the start, then one accuracy per epoch, ending where the run stopped.
        curve = result["relearn_curve"]
        assert len(curve) == result["relearn_epochs"] + 1
        assert curve[0] == result["relearn_acc_start"] and curve[-1] == result["relearn_acc_end"]
        assert max(curve[:-1]) < result["relearn_target"] <= curve[-1]
    assert results["retrain"]["relearn_acc_start"] == 0.0
    assert 1 <= results["zero_output"]["relearn_epochs"] <= 16
    assert results["retrain"]["relearn_epochs"] >= 20
    assert results["retrain"]["relearn_epochs"] >= 2 * results["zero_output"]["relearn_epochs"]
    assert results["finetune"]["relearn_epochs"] <= 4
    # Relearning did not collapse zero_output or finetune onto class 3 (measured 0.87 and 1.00).
    assert results["zero_output"]["relearn_acc_retain_end"] >= 0.8
    assert results["finetune"]["relearn_acc_retain_end"] >= 0.9
    ratio = anamnesis_index(results["zero_output"]["relearn_epochs"], results["retrain"]["relearn_epochs"])
    assert 0.0 < ratio <= 0.6


def test_capped_run_reports_the_cap(unlearned_class3, forget_split, target):
    model, _ = unlearned_class3["retrain"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = relearn_time(model, forget_split, target, {"max_epochs": 3}, seed=0)
    assert result["relearn_reached"] is False
    assert result["relearn_epochs"] == 3
    assert result["relearn_steps"] == 3
    assert result["relearn_acc_end"] < result["relearn_target"]
    assert len(result["relearn_curve"]) == 4
    assert result["relearn_acc_retain_end"] is None
    # The caller's model is untouched (relearning works on a copy).
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.training


def test_relearn_is_reproducible(unlearned_class3, forget_split, target):
    model, _ = unlearned_class3["zero_output"]
    first = relearn_time(model, forget_split, target, None, seed=3)
    assert relearn_time(model, forget_split, target, None, seed=3) == first


def test_anamnesis_index():
    assert anamnesis_index(5, 10) == 0.5
    assert anamnesis_index(0, 10) == 0.0
    assert anamnesis_index(5, 0) is None
    assert anamnesis_index(None, 10) is None
    assert np.isclose(anamnesis_index(30, 28), 30 / 28)


def test_max_eval_caps_the_scored_samples(forget_split):
    params = relearn_params({"max_eval": 50})
    train, evaluate = relearn_split(forget_split, params, seed=0)
    assert len(evaluate) == 50
    flat = lambda split: {tuple(row) for row in split.x.flatten(1).tolist()}  # noqa: E731
    assert not flat(train) & flat(evaluate)
    full_train, full_eval = relearn_split(forget_split, relearn_params({"max_eval": None}), seed=0)
    assert torch.equal(train.x, full_train.x)  # the cap does not change the relearn samples
    assert len(full_eval) == len(forget_split) - len(train)
    assert flat(evaluate) <= flat(full_eval)
    with pytest.raises(ValueError, match="max_eval"):
        relearn_params({"max_eval": 0})


def test_original_model_as_target_is_measured_on_the_scored_samples(original_mlp, unlearned_class3, forget_split):
    result = relearn_time(unlearned_class3["zero_output"][0], forget_split, original_mlp, {"max_eval": 40}, seed=0)
    assert result["relearn_n_eval"] == 40
    _, evaluate = relearn_split(forget_split, relearn_params({"max_eval": 40}), seed=0)
    from lethe.train import accuracy

    expected = accuracy(original_mlp, evaluate) - DEFAULT_RELEARN["tolerance"]
    assert result["relearn_target"] == pytest.approx(expected)
