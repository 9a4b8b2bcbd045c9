"""SCRUB on digits / MLP: class 3 and random 10 %.

Measured (torch 2.14.1, CPU, one thread; the conftest original; SCRUB's small-scale
setting, Adam lr 5e-4, weight decay 0.1, τ 2, γ 1, α 0.5, retain batch 32, forget batch
64, 10 epochs, with msteps 5, the tests' hand-set digits value (helpers.settings)):

=================================== ========== ================== ================= ========== ===== =====
model (seed 0)                      acc_forget acc_test_forgotten acc_test_retained acc_retain steps s
=================================== ========== ================== ================= ========== ===== =====
original                            1.000      1.000              0.975             1.000
retrain                             0.000      0.000              0.978             1.000      1020  0.6
scrub, msteps 5 (tests)             0.000      0.000              0.975             0.992      350   0.2
scrub, msteps 3 (notebook)          0.602      0.543              0.975             0.994      346   0.2
scrub, msteps 5, weight decay 0     1.000      1.000              0.978             1.000      350   0.2
=================================== ========== ================== ================= ========== ===== =====

Seeds 1 and 2 (their own originals, retained 0.983 / 0.975): acc_forget 0.000 / 0.000,
acc_test_retained 0.980 / 0.975, acc_retain 0.993 / 0.993. The Adam weight decay of 0.1
(coupled L2) does much of the forgetting: without it, the max-steps barely move the
student (KL on D_f 0.03). Random 10 % (seed 0): acc_test 0.973 (original 0.978),
acc_retain 0.989, forget/test loss ratio 0.115/0.153 = 0.75 (original 0.16, retrain
0.57); seeds 1, 2: 0.75, 0.77. Thresholds: class forgetting at most FORGOTTEN (0.25)
with retained accuracies within KEPT (0.03) of the original's (worst measured drop
0.008, acc_retain); random forgetting as in ``relabel_checks``.
"""

from __future__ import annotations

import math

import pytest
import torch
from helpers.digits_sizes import N_TRAIN
from helpers.forgetting import forgetting_failures
from helpers.relabel_checks import (
    FORGOTTEN,
    KEPT,
    accuracies,
    destroyed_model,
    loss_ratio,
    random_forgetting_failures,
    run_method,
)

from lethe.methodkit.passes import epoch_lr
from lethe.methods.catalog import METHODS
from lethe.methods.scrub import distill_kl
from lethe.unlearning import data_view


@pytest.fixture(scope="module")
def scrubbed(original_mlp, digits, forget_class3, cpu, method_overrides):
    return run_method("scrub", original_mlp, digits, forget_class3, method_overrides["scrub"], cpu)


def test_declared_needs_and_small_scale_defaults(digits, forget_class3):
    info = METHODS["scrub"]
    assert info.needs_forget and info.needs_retain and info.needs_original and not info.class_only
    assert info.family == "teacher" and info.citation == "kurmanji2023towards"
    assert info.defaults == {
        "optimizer": "adam",
        "lr": 5e-4,
        "momentum": 0.9,
        "weight_decay": 0.1,
        "epochs": 10,
        "msteps": 3,
        "temperature": 2.0,
        "gamma": 1.0,
        "alpha": 0.5,
        "lr_decay_epochs": [5, 8, 9],
        "lr_decay_rate": 0.1,
        "batch_size": 32,
        "forget_batch_size": 64,
    }
    view = data_view(digits, forget_class3, "scrub")
    assert view.forget is not None and view.retain is not None


def test_scrub_forgets_class3_and_keeps_the_rest(scrubbed, digits, forget_class3, original_metrics):
    model, _ = scrubbed
    metrics = accuracies(model, digits, forget_class3)
    assert forgetting_failures(metrics, original_metrics, FORGOTTEN, KEPT) == [], metrics
    assert metrics["acc_forget"] < original_metrics["acc_forget"] - 0.7


def test_max_steps_only_in_the_first_msteps_epochs(scrubbed, forget_class3, method_overrides):
    _, record = scrubbed
    msteps = method_overrides["scrub"]["msteps"]
    n_forget, n_retain = forget_class3["size"], N_TRAIN - forget_class3["size"]
    per_max_epoch = math.ceil(n_forget / 64)
    assert record["notes"]["max_steps_per_epoch"] == [per_max_epoch] * msteps + [0] * (10 - msteps)
    assert record["steps"] == msteps * per_max_epoch + 10 * math.ceil(n_retain / 32)
    assert record["samples"] == msteps * n_forget + 10 * n_retain
    assert record["notes"]["lr_per_epoch"] == pytest.approx([5e-4] * 5 + [5e-5] * 3 + [5e-6, 5e-7])


def test_learning_rate_decays_after_each_milestone():
    """The code's rule: decay once for every milestone strictly below the (1-based) epoch."""
    assert [epoch_lr(1.0, e, [5, 8, 9], 0.1) for e in range(1, 11)] == pytest.approx(
        [1, 1, 1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.001]
    )
    assert [epoch_lr(0.5, e, [3, 5, 9], 0.1) for e in (1, 3, 4)] == pytest.approx([0.5, 0.5, 0.05])


def test_distillation_loss_is_tau_squared_kl_per_sample():
    student = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    teacher = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    tau = 2.0
    # Row 1: identical distributions; row 2: KL(uniform ‖ softmax([1, 0])) per sample.
    q = torch.softmax(torch.tensor([1.0, 0.0]), 0)
    kl_row2 = 0.5 * (math.log(0.5 / q[0]) + math.log(0.5 / q[1]))
    assert distill_kl(student, teacher, tau).item() == pytest.approx(tau**2 * kl_row2 / 2, rel=1e-5)
    assert distill_kl(teacher, teacher, tau).item() == pytest.approx(0.0, abs=1e-7)


def test_the_notebook_msteps_only_partly_forget_on_digits(original_mlp, digits, forget_class3, cpu):
    """Why the tests raise msteps to 5 (measured acc_forget 0.602 with the notebook's 3)."""
    model, record = run_method("scrub", original_mlp, digits, forget_class3, None, cpu)
    n_batches = math.ceil(forget_class3["size"] / record["params"]["forget_batch_size"])  # one max step per D_f batch
    assert record["notes"]["max_steps_per_epoch"][:4] == [n_batches] * 3 + [0]
    assert accuracies(model, digits, forget_class3)["acc_forget"] > FORGOTTEN


def test_scrub_on_random_samples(original_mlp, digits, forget_random, cpu, method_overrides):
    model, _ = run_method("scrub", original_mlp, digits, forget_random, method_overrides["scrub"], cpu)
    assert random_forgetting_failures(model, original_mlp, digits, forget_random, KEPT) == []
    assert random_forgetting_failures(original_mlp, original_mlp, digits, forget_random, KEPT)  # no-op: ratio 0.15
    assert random_forgetting_failures(destroyed_model(), original_mlp, digits, forget_random, KEPT)
    assert loss_ratio(model, digits, forget_random) > 2 * loss_ratio(original_mlp, digits, forget_random)


def test_scrub_is_deterministic(scrubbed, original_mlp, digits, forget_class3, cpu, method_overrides):
    model, _ = scrubbed
    again, _ = run_method("scrub", original_mlp, digits, forget_class3, method_overrides["scrub"], cpu)
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
