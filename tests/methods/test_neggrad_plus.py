"""NegGrad+ on digits / MLP / class 3.

Measured (torch 2.14.1, CPU, one thread; the conftest original; NegGrad+ with plain SGD,
weight decay 0, 10 epochs, retain batch 128, forget batch 64, i.e. 100 steps):

================================== ========== ================== ================= ==========
model                              acc_forget acc_test_forgotten acc_test_retained acc_retain
================================== ========== ================== ================= ==========
original                           1.000      0.978              0.978             0.998
retrain                            0.000      0.000              0.980             1.000
neggrad_plus α 0.99, lr 0.15       0.000      0.000              0.970             0.998
neggrad_plus paper α 0.95, lr 0.01 0.993      0.978              0.983             0.999
neggrad_plus α 0.95, lr 0.03       0.000      0.000              0.973             0.993
neggrad_plus α 0.95, lr 0.04       0.000      0.000              0.923             0.953
================================== ========== ================== ================= ==========

The tests' values (helpers.settings: α 0.99, lr 0.15) on seeds 1 and 2 (their own
originals): acc_forget 0.000 / 0.000, acc_test_retained 0.973 / 0.975, acc_retain 0.998 /
0.997. At α 0.95 the method sits on a knife edge: lr 0.03 leaves seed 1's class 3 at
0.759, lr 0.04 forgets on every seed but costs 3 to 6 points of retained accuracy.
Thresholds: acc_forget and acc_test_forgotten at most FORGOTTEN (0.25), retained
accuracies within KEPT (0.03) of the original (worst measured drop 0.008). A no-op and
a destroyed model fail them (tested).
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from helpers.digits_sizes import N_TRAIN
from helpers.forgetting import forgetting_failures

from lethe.methods.catalog import METHODS, merge_params
from lethe.metrics.evaluate import evaluate_model
from lethe.models.registry import build_model
from lethe.train import fit
from lethe.unlearning import data_view, run_unlearning

FORGOTTEN = 0.25
KEPT = 0.03


def failures(metrics: dict, original: dict) -> list[str]:
    return forgetting_failures(metrics, original, FORGOTTEN, KEPT)


def run_neggrad_plus(original, dataset, forget, overrides, cpu):
    params = merge_params("neggrad_plus", overrides)
    return run_unlearning("neggrad_plus", original, dataset, forget, params, arch="mlp", seed=0, device=cpu)


@pytest.fixture(scope="module")
def unlearned(original_mlp, digits, forget_class3, cpu, method_overrides):
    return run_neggrad_plus(original_mlp, digits, forget_class3, method_overrides["neggrad_plus"], cpu)


def test_defaults_are_the_small_scale_notebook():
    info = METHODS["neggrad_plus"]
    assert info.needs_forget and info.needs_retain and not info.class_only
    assert info.defaults == {
        "alpha": 0.95,
        "epochs": 10,
        "optimizer": "sgd",
        "lr": 0.01,
        "momentum": 0.0,
        "weight_decay": 0.0,
        "batch_size": 128,
        "forget_batch_size": 64,
        # Lethe's: no target (as the paper), the ascent guard
        "target_forget_acc": None,
        "collapse_share": 0.8,
        "check_every": 10,
        "max_retained_drop": 0.1,
    }


def test_neggrad_plus_forgets_class3_and_keeps_the_rest(unlearned, digits, forget_class3, original_metrics):
    model, _ = unlearned
    metrics = evaluate_model(model, digits, forget_class3)["metrics"]
    assert failures(metrics, original_metrics) == [], metrics
    assert metrics["acc_forget"] < original_metrics["acc_forget"] - 0.7


def test_checks_reject_a_no_op_and_a_destroyed_model(original_metrics, digits, forget_class3):
    assert failures(original_metrics, original_metrics)
    destroyed = build_model("mlp", (1, 8, 8), 10, seed=123).eval()
    metrics = evaluate_model(destroyed, digits, forget_class3)["metrics"]
    assert any("acc_test_retained" in f for f in failures(metrics, original_metrics)), metrics


def test_one_retain_batch_and_one_cycled_forget_batch_per_step(unlearned, forget_class3):
    _, record = unlearned
    n_retain, n_forget = N_TRAIN - forget_class3["size"], forget_class3["size"]
    steps = 10 * math.ceil(n_retain / 128)
    assert record["steps"] == steps
    # D_f (123) cycles in batches of 64 and 59: 45 full passes in 90 steps.
    per_pass = math.ceil(n_forget / 64)
    seen = (steps // per_pass) * n_forget + sum(min(64, n_forget - 64 * i) for i in range(steps % per_pass))
    assert record["notes"]["forget_samples_seen"] == seen
    assert record["samples"] == 10 * n_retain + seen


def test_alpha_one_is_fine_tuning_on_the_retain_set(original_mlp, digits, forget_class3, cpu):
    """With α = 1 the forget term has weight 0: the same steps as plain SGD fine-tuning on D_r."""
    model, _ = run_neggrad_plus(original_mlp, digits, forget_class3, {"alpha": 1.0, "epochs": 2}, cpu)
    reference = copy.deepcopy(original_mlp)
    retain = data_view(digits, forget_class3, "neggrad_plus").retain
    fit(reference, retain, epochs=2, batch_size=128, lr=0.01, optimizer="sgd", momentum=0.0, seed=0)
    for key, value in reference.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key


def test_paper_settings_forget_nothing_on_digits(original_mlp, digits, forget_class3, cpu):
    """Why the tests' hand pick (helpers.settings' METHOD_OVERRIDES) sets α and lr (measured acc_forget 0.993)."""
    model, record = run_neggrad_plus(original_mlp, digits, forget_class3, None, cpu)
    params = record["params"]
    assert record["steps"] == params["epochs"] * math.ceil((N_TRAIN - forget_class3["size"]) / params["batch_size"])
    assert evaluate_model(model, digits, forget_class3)["metrics"]["acc_forget"] > 0.9


def test_runs_on_random_samples(original_mlp, digits, forget_random, cpu):
    model, record = run_neggrad_plus(original_mlp, digits, forget_random, {"epochs": 1}, cpu)
    assert record["steps"] == math.ceil((N_TRAIN - forget_random["size"]) / 128)
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
