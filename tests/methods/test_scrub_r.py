"""SCRUB+R on digits / MLP: the rewind rule, random 10 % and class 3.

Measured (torch 2.14.1, CPU, one thread; the conftest original, seed 0). "MIA defaults":
the catalogue's (the tests' settings: no METHOD_OVERRIDES entry), SGD lr 5e-4, 5 epochs,
msteps 3, τ 4, forget batch 16. "SCRUB setting": the tests' ``scrub`` settings (its
small-scale defaults with msteps 5: Adam lr 5e-4, weight decay 0.1, 10 epochs, τ 2,
forget batch 64) given to scrub_r. err_f: D_f's error after epochs 0..E; ref: the final
model's error on the forget-validation set (136 validation images for random 10 %, the
14 of class 3 for class 3); k: the returned epoch; ratio: mean CE on D_f over mean CE on
the test set (relabel_checks).

============================== ============================================ ===== == ========== ======== ===== =====
run (seed 0)                   err_f, epochs 0..E                           ref   k  acc_forget acc_test ratio steps
============================== ============================================ ===== == ========== ======== ===== =====
random 10 %: original                                                                 1.000      0.978    0.159
random 10 %: retrain                                                                  0.975      0.973    0.565
random 10 %, MIA defaults      0 at every epoch                             0.037 1  1.000      0.978    0.159 199
random 10 %, SCRUB setting     0 ×4, .008 ×2, .017 ×5                       0.037 6  0.983      0.973    0.744 360
class 3: original                                                                     1.000      0.978    0.192
class 3, MIA defaults          0 at every epoch                             0.286 1  1.000      0.978    0.206 194
class 3, SCRUB setting         0, 0, .114, .585, 1.0 ×7                     1.000 4  0.000      0.876    8.222 350
============================== ============================================ ===== == ========== ======== ===== =====

At the MIA defaults SCRUB+R does not forget on digits: D_f's error never leaves 0, every
checkpoint ties and the rule returns epoch 1, whose loss ratio is the original's (the
final SCRUB epoch on class 3 had reached 0.409; the rewind undoes it). The tests pin that
(``test_the_mia_defaults_rewind_to_epoch_1_and_forget_nothing``) and check forgetting with
the SCRUB setting, under which D_f's error rises and the rule rewinds: random 10 % passes
``relabel_checks.random_forgetting_failures`` (ratio at least 0.4, test and retain
accuracy within KEPT = 0.03 of the original's: measured 0.744, −0.005, −0.011) and class
3 helpers.forgetting's ``forgetting_failures`` (FORGOTTEN 0.25, KEPT 0.03: measured 0.000 and
retained test accuracy 0.975 against 0.975). Seeds 1 and 2 (their own originals, SCRUB
setting): random 10 % k = 5 and 6, ratio 0.754 and 0.771; class 3 k = 5 and 4, acc_forget
0.000. Every returned model equals, bit for bit, ``scrub`` run with the same parameters
and ``epochs`` = k. In test_random_samples' measure (moved), the MIA defaults give −0.015
and retained accuracy 0.978; the SCRUB setting 0.119 and 0.973.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
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
from helpers.settings import METHOD_OVERRIDES

from lethe.methodkit.base import Context
from lethe.methods.catalog import METHODS, merge_params
from lethe.methods.scrub_r import error, forget_validation, rewind_epoch, unlearn
from lethe.unlearning import data_view

# SCRUB's tests' settings (its small-scale defaults with helpers.settings' override), under which SCRUB moves
# D_f's error on digits and the rewind has epochs to choose from.
SCRUB_SETTING = merge_params("scrub", METHOD_OVERRIDES["scrub"])


@pytest.fixture(scope="module")
def runs(original_mlp, digits, forget_random, forget_class3, cpu):
    """{(forget set, setting): (model, record)}: scrub_r at the tests' settings and at SCRUB's."""
    out = {}
    for name, forget in (("random", forget_random), ("class3", forget_class3)):
        out[name, "tests"] = run_method("scrub_r", original_mlp, digits, forget, METHOD_OVERRIDES.get("scrub_r"), cpu)
        out[name, "scrub"] = run_method("scrub_r", original_mlp, digits, forget, SCRUB_SETTING, cpu)
    return out


def forget_of(name, forget_random, forget_class3):
    return {"random": forget_random, "class3": forget_class3}[name]


def test_declared_needs_and_mia_defaults():
    info = METHODS["scrub_r"]
    assert info.needs_forget and info.needs_retain and info.needs_original and not info.class_only
    assert info.family == "teacher" and info.citation == "kurmanji2023towards"
    assert info.paper_scope == ("random_samples",)
    assert info.defaults == {
        "optimizer": "sgd",
        "lr": 5e-4,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "epochs": 5,
        "msteps": 3,
        "temperature": 4.0,
        "gamma": 1.0,
        "alpha": 0.5,
        "lr_decay_epochs": [3, 5, 9],
        "lr_decay_rate": 0.1,
        "batch_size": 32,
        "forget_batch_size": 16,
    }
    assert set(info.defaults) == set(METHODS["scrub"].defaults)  # SCRUB's parameters, nothing added


def test_rewind_rule():
    """Closest D_f error to the reference over epochs 1..E, first on ties; epoch 0 is never returned."""
    assert rewind_epoch([0.0, 0.0, 0.0, 0.0], 0.04) == 1  # all tie: the first epoch
    assert rewind_epoch([0.0, 0.01, 0.03, 0.06, 0.045], 0.04) == 4  # past the reference and back
    assert rewind_epoch([0.0, 0.01, 0.02, 0.04, 0.04], 0.04) == 3  # the first of the tied
    assert rewind_epoch([0.0, 0.25, 0.5, 0.75], 0.5) == 2
    assert rewind_epoch([0.04, 0.5, 0.2], 0.04) == 2  # the original is the closest, but not a candidate
    with pytest.raises(ValueError, match="at least 1"):
        rewind_epoch([0.0], 0.1)


@pytest.mark.parametrize("setting", ["tests", "scrub"])
@pytest.mark.parametrize("name", ["random", "class3"])
def test_the_run_returns_the_checkpoint_the_rule_picks(
    name, setting, runs, original_mlp, digits, forget_random, forget_class3, cpu
):
    model, record = runs[name, setting]
    forget = forget_of(name, forget_random, forget_class3)
    notes, params = record["notes"], record["params"]
    errors, reference = notes["forget_error_per_epoch"], notes["reference_forget_validation_error"]
    epochs = params["epochs"]
    assert len(errors) == epochs + 1 and errors[0] == 0.0  # the original fits D_f
    gaps = [abs(e - reference) for e in errors[1:]]
    assert notes["chosen_epoch"] == 1 + gaps.index(min(gaps))
    assert notes["forget_validation_size"] == (len(digits.val) if name == "random" else int((digits.val.y == 3).sum()))

    # The returned weights are scrub's, stopped after the chosen epoch; the cost is the whole run's.
    chosen = notes["chosen_epoch"]
    stopped, _ = run_method("scrub", original_mlp, digits, forget, {**params, "epochs": chosen}, cpu)
    for key, value in model.state_dict().items():
        assert torch.equal(value, stopped.state_dict()[key]), key
    assert error(model, digits.train.subset(forget["indices"])) == errors[chosen]
    final, full = run_method("scrub", original_mlp, digits, forget, params, cpu)
    assert (record["steps"], record["samples"]) == (full["steps"], full["samples"])
    view = data_view(digits, forget, "scrub_r")
    assert error(final, forget_validation(view)) == reference
    assert not model.training


def test_the_mia_defaults_rewind_to_epoch_1_and_forget_nothing(runs, original_mlp, digits, forget_random, cpu):
    """On digits SGD at lr 5e-4 barely moves the student: D_f's error stays 0, every epoch ties."""
    model, record = runs["random", "tests"]
    assert record["params"] == merge_params("scrub_r", None)  # the tests' settings are the defaults
    assert record["notes"]["forget_error_per_epoch"] == [0.0] * 6
    assert record["notes"]["chosen_epoch"] == 1
    assert loss_ratio(model, digits, forget_random) == pytest.approx(
        loss_ratio(original_mlp, digits, forget_random), abs=0.02
    )  # measured 0.159 and 0.159
    assert random_forgetting_failures(model, original_mlp, digits, forget_random, KEPT)


def test_the_rewind_undoes_scrubs_last_epochs_on_class3_at_the_defaults(runs, original_mlp, digits, forget_class3, cpu):
    """The tie rule returns epoch 1 although the final epoch moved D_f's loss further (0.206 against 0.409)."""
    model, record = runs["class3", "tests"]
    assert record["notes"]["chosen_epoch"] == 1 and set(record["notes"]["forget_error_per_epoch"]) == {0.0}
    final, _ = run_method("scrub", original_mlp, digits, forget_class3, record["params"], cpu)
    assert loss_ratio(model, digits, forget_class3) < loss_ratio(final, digits, forget_class3) - 0.1
    assert accuracies(model, digits, forget_class3)["acc_forget"] == 1.0


def test_scrub_r_forgets_a_random_sample_with_scrubs_setting(runs, original_mlp, digits, forget_random):
    model, record = runs["random", "scrub"]
    assert 1 < record["notes"]["chosen_epoch"] < SCRUB_SETTING["epochs"]  # a rewind (measured: epoch 6 of 10)
    assert record["notes"]["forget_error_per_epoch"][record["notes"]["chosen_epoch"]] > 0
    assert random_forgetting_failures(model, original_mlp, digits, forget_random, KEPT) == []
    assert random_forgetting_failures(original_mlp, original_mlp, digits, forget_random, KEPT)  # no-op: ratio 0.16
    assert random_forgetting_failures(destroyed_model(), original_mlp, digits, forget_random, KEPT)
    assert loss_ratio(model, digits, forget_random) > 2 * loss_ratio(original_mlp, digits, forget_random)


def test_scrub_r_forgets_class3_with_scrubs_setting(runs, original_metrics, digits, forget_class3):
    model, record = runs["class3", "scrub"]
    errors, chosen = record["notes"]["forget_error_per_epoch"], record["notes"]["chosen_epoch"]
    assert record["notes"]["reference_forget_validation_error"] == 1.0  # the final model misses every held-out 3
    assert chosen == errors.index(1.0) < SCRUB_SETTING["epochs"]  # the first epoch at D_f error 1 (measured 4)
    metrics = accuracies(model, digits, forget_class3)
    assert forgetting_failures(metrics, original_metrics, FORGOTTEN, KEPT) == [], metrics


def test_an_empty_forget_validation_set_is_an_error(original_mlp, digits, forget_class3, forget_random):
    params = merge_params("scrub_r", None)
    ctx = Context(device=torch.device("cpu"), seed=0, arch="mlp")
    original_mlp = copy.deepcopy(original_mlp)  # the session's original stays untouched whatever happens
    view = data_view(digits, forget_class3, "scrub_r")
    no_threes = dataclasses.replace(view, validation=digits.val.without_classes([3]))
    assert len(no_threes.validation) > 0
    with pytest.raises(ValueError, match=r"no sample of the forget set's labels \[3\]"):
        unlearn(original_mlp, no_threes, params, ctx)
    view = data_view(digits, forget_random, "scrub_r")
    empty = dataclasses.replace(view, validation=digits.val.subset([]))
    with pytest.raises(ValueError, match="validation split has no sample"):
        unlearn(original_mlp, empty, params, ctx)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        unlearn(original_mlp, view, {**params, "epochs": 0}, ctx)
    assert ctx.steps == 0  # refused before any step


def test_forget_validation_keeps_the_labels_present_in_d_f(digits, forget_class3, forget_random):
    class3 = forget_validation(data_view(digits, forget_class3, "scrub_r"))
    assert len(class3) == int((digits.val.y == 3).sum()) > 0 and set(class3.y.tolist()) == {3}
    random = forget_validation(data_view(digits, forget_random, "scrub_r"))
    assert len(random) == len(digits.val)  # random 10 % holds every label
