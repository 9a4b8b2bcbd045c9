"""SalUn on digits / MLP: class 3 and random 10 %.

Measured (torch 2.14.1, CPU, one thread; the conftest original; SalUn with mask ratio
0.5 (4,805 of the MLP's 9,610 parameters), SGD momentum 0.9, weight decay 5e-4, batch
256, 10 epochs, i.e. 1 random-label step on D_f and 5 steps on D_r per epoch, with lr
0.02, the tests' hand-set digits value (helpers.settings)):

=========================== ========== ================== ================= ========== ===== =====
model (seed 0)              acc_forget acc_test_forgotten acc_test_retained acc_retain steps s
=========================== ========== ================== ================= ========== ===== =====
original                    1.000      1.000              0.975             1.000
retrain                     0.000      0.000              0.978             1.000      1020  0.6
salun, lr 0.02 (tests)      0.000      0.000              0.955             0.984      60    0.05
salun, lr 0.013 (README)    0.366      0.435              0.958             0.986      60    0.04
=========================== ========== ================== ================= ========== ===== =====

Seeds 1 and 2 (their own originals, retained 0.983 / 0.975): acc_forget 0.000 / 0.000,
acc_test_retained 0.968 / 0.968, acc_retain 0.995 / 0.992. The method is noisy on digits
(one random-label batch per epoch): lr 0.03, 0.04 and 0.05 forget class 3 on all three
seeds too (retained 0.960-0.978), and batch 64 at lr 0.013 brings it to 0.11 / 0.02 /
0.14. Random 10 % (seed 0): acc_test 0.953 (original 0.978), acc_retain 0.987,
forget/test loss ratio 0.291/0.289 = 1.01 (original 0.16, retrain 0.57); seeds 1, 2:
acc_test 0.942 / 0.964 (originals 0.984 / 0.978), ratios 1.02, 1.04. Thresholds: class
forgetting at most FORGOTTEN (0.25) with retained accuracies within KEPT (0.03) of the
original's (worst measured drop 0.020, seed 0); random forgetting as in ``relabel_checks``
(measured acc_test drop 0.025 on seed 0, the seed the tests run).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers.digits_sizes import N_TRAIN
from helpers.forgetting import forgetting_failures
from helpers.relabel_checks import FORGOTTEN, KEPT, accuracies, random_forgetting_failures, run_method

from lethe.methods.catalog import METHODS
from lethe.methods.salun import saliency_mask
from lethe.unlearning import data_view


@pytest.fixture(scope="module")
def salun(original_mlp, digits, forget_class3, cpu, method_overrides):
    return run_method("salun", original_mlp, digits, forget_class3, method_overrides["salun"], cpu)


@pytest.fixture(scope="module")
def forget3(digits, forget_class3):
    return data_view(digits, forget_class3, "salun").forget


def test_declared_needs_and_defaults():
    info = METHODS["salun"]
    assert info.needs_forget and info.needs_retain and info.needs_original and not info.class_only
    assert info.family == "relabel" and info.citation == "fan2024salun"
    assert info.defaults == {
        "mask_ratio": 0.5,
        "optimizer": "sgd",
        "lr": 0.013,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "epochs": 10,
        "batch_size": 256,
    }


def test_salun_forgets_class3_and_keeps_the_rest(salun, digits, forget_class3, original_metrics):
    model, _ = salun
    metrics = accuracies(model, digits, forget_class3)
    assert forgetting_failures(metrics, original_metrics, FORGOTTEN, KEPT) == [], metrics
    assert metrics["acc_forget"] < original_metrics["acc_forget"] - 0.7


def test_mask_covers_the_configured_fraction(salun, original_mlp, forget3):
    _, record = salun
    total = sum(p.numel() for p in original_mlp.parameters())
    assert record["notes"]["parameters"] == total == 9610
    assert record["notes"]["mask_size"] == int(total * 0.5)
    for ratio in (0.0, 0.1, 0.37, 1.0):
        masks = saliency_mask(original_mlp, forget3, ratio, 256)
        assert sum(int(m.sum()) for m in masks.values()) == int(total * ratio)


def test_mask_is_the_top_of_the_forget_gradient(original_mlp, forget3):
    """Every masked entry has a larger |Σ_batches ∇(−CE)| than every unmasked one."""
    model = original_mlp
    grads = [torch.zeros_like(p) for p in model.parameters()]
    for start in range(0, len(forget3), 256):
        model.zero_grad()
        F.cross_entropy(model(forget3.x[start : start + 256]), forget3.y[start : start + 256]).backward()
        grads = [g + p.grad for g, p in zip(grads, model.parameters(), strict=True)]
    model.zero_grad(set_to_none=True)
    masks = saliency_mask(model, forget3, 0.5, 256)
    scores = torch.cat([g.abs().flatten() for g in grads])
    chosen = torch.cat([m.flatten() for m in masks.values()])
    assert scores[chosen].min() >= scores[~chosen].max()
    assert not model.training  # the mask pass restores the mode it found


def test_unmasked_weights_end_exactly_at_the_original(salun, original_mlp, forget3):
    model, _ = salun
    masks = saliency_mask(original_mlp, forget3, 0.5, 256)
    changed = 0
    for (name, after), before in zip(model.named_parameters(), original_mlp.parameters(), strict=True):
        keep = ~masks[name]
        assert torch.equal(after[keep], before[keep]), name
        changed += int((after[masks[name]] != before[masks[name]]).sum())
    assert changed > 0.95 * 4805  # the masked half moved


def test_ratio_zero_changes_nothing_and_labels_may_be_true(original_mlp, digits, forget_class3, cpu):
    model, record = run_method("salun", original_mlp, digits, forget_class3, {"mask_ratio": 0.0, "epochs": 2}, cpu)
    for after, before in zip(model.parameters(), original_mlp.parameters(), strict=True):
        assert torch.equal(after, before)
    assert record["steps"] == 2 * (1 + 5) and record["notes"]["mask_size"] == 0


def test_random_labels_hit_the_true_class_about_one_time_in_ten(salun):
    _, record = salun
    assert 0.05 < record["notes"]["random_label_equals_true"] < 0.16  # measured 0.101 of 1,230 draws


def test_cost_counts_the_mask_pass(salun, forget_class3):
    _, record = salun
    n_forget, n_retain = forget_class3["size"], N_TRAIN - forget_class3["size"]
    assert record["steps"] == 10 * (1 + 5)
    assert record["samples"] == 10 * (n_forget + n_retain) + n_forget


def test_the_readme_learning_rate_only_partly_forgets_on_digits(original_mlp, digits, forget_class3, cpu):
    """Why the tests raise lr to 0.02 (measured acc_forget 0.366 at 0.013)."""
    model, _ = run_method("salun", original_mlp, digits, forget_class3, None, cpu)
    assert accuracies(model, digits, forget_class3)["acc_forget"] > FORGOTTEN


def test_salun_on_random_samples(original_mlp, digits, forget_random, cpu, method_overrides):
    model, _ = run_method("salun", original_mlp, digits, forget_random, method_overrides["salun"], cpu)
    assert random_forgetting_failures(model, original_mlp, digits, forget_random, KEPT) == []
