"""Unlearning methods on digits / MLP / class 3, with thresholds measured on this setup.

Measured (torch 2.14.1, CPU, one thread; original: MLP, Adam 1e-3, batch 32, 30 epochs, seed 0):

=========== ========== ================== =================== ==========
method      acc_forget acc_test_forgotten acc_test_retained   acc_retain
=========== ========== ================== =================== ==========
original    1.000      0.978              0.978               0.998
retrain     0.000      0.000              0.980               1.000
finetune    0.876      0.913              0.980               1.000
neggrad     0.029      0.065              0.973               0.993
zero_output 0.139      0.109              0.978               0.999
=========== ========== ================== =================== ==========

Thresholds: a forgetting method must bring acc_forget and acc_test_forgotten to at most
FORGOTTEN (0.35; worst measured 0.139) while acc_test_retained and acc_retain stay within
KEPT (0.03; worst measured drop 0.005) of the original's. A no-op (the original itself)
and a destroyed model both fail these checks (tested below).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from helpers.digits_sizes import N_TRAIN

from lethe.data.forget_sets import retain_indices
from lethe.methodkit.base import Context, UnlearningData
from lethe.methods import get_method
from lethe.methods.catalog import METHODS, merge_params, method_info
from lethe.metrics.evaluate import evaluate_model
from lethe.unlearning import data_view, run_unlearning

FORGOTTEN = 0.35  # at most this accuracy on forgotten data
KEPT = 0.03  # at most this drop in accuracy on retained data
FORGETTING_METHODS = ["retrain", "neggrad", "zero_output"]


def forgetting_failures(metrics: dict, original: dict) -> list[str]:
    """Why ``metrics`` does not show class forgetting that keeps the rest (empty: it does)."""
    failures = []
    for key in ("acc_forget", "acc_test_forgotten"):
        if metrics[key] > FORGOTTEN:
            failures.append(f"{key} {metrics[key]:.3f} > {FORGOTTEN}")
    for key in ("acc_test_retained", "acc_retain"):
        if metrics[key] < original[key] - KEPT:
            failures.append(f"{key} {metrics[key]:.3f} < original {original[key]:.3f} - {KEPT}")
    return failures


def retained_failures(metrics: dict, original: dict) -> list[str]:
    return [
        f"{key} {metrics[key]:.3f} < original {original[key]:.3f} - {KEPT}"
        for key in ("acc_test_retained", "acc_retain")
        if metrics[key] < original[key] - KEPT
    ]


# Slow (the full evaluation of every method's model: 27 s on 2 busy cores): the tests that read it
# are marked slow, so make test-fast leaves them out.
@pytest.fixture(scope="module")
def unlearned_metrics(unlearned_class3, digits, forget_class3):
    return {
        method: evaluate_model(model, digits, forget_class3)["metrics"]
        for method, (model, _) in unlearned_class3.items()
    }


# --------------------------------------------------------------------------- the checks themselves


def test_original_remembers_class3(original_metrics):
    assert original_metrics["acc_forget"] >= 0.98
    assert original_metrics["acc_test_forgotten"] >= 0.9
    assert original_metrics["acc_test_retained"] >= 0.94


def test_checks_reject_a_no_op_and_a_destroyed_model(original_mlp, original_metrics, digits, forget_class3):
    """The thresholds are not vacuous: doing nothing fails, and so does wrecking the model."""
    assert forgetting_failures(original_metrics, original_metrics)  # no-op: forgets nothing
    destroyed = copy.deepcopy(original_mlp)
    with torch.no_grad():
        destroyed.head.weight.zero_()
        destroyed.head.bias.zero_()  # every logit 0: predicts class 0 everywhere
    metrics = evaluate_model(destroyed, digits, forget_class3)["metrics"]
    assert forgetting_failures(metrics, original_metrics)
    assert retained_failures(metrics, original_metrics)


# --------------------------------------------------------------------------- methods


def test_every_method_was_run(unlearned_class3):
    assert set(unlearned_class3) == set(METHODS)
    assert {"retrain", "finetune", "neggrad", "zero_output"} <= set(METHODS)


@pytest.mark.slow
@pytest.mark.parametrize("method", FORGETTING_METHODS)
def test_method_forgets_class3_and_keeps_the_rest(method, unlearned_metrics, original_metrics):
    metrics = unlearned_metrics[method]
    assert forgetting_failures(metrics, original_metrics) == [], metrics
    assert metrics["acc_forget"] < original_metrics["acc_forget"] - 0.5


@pytest.mark.slow
def test_finetune_keeps_the_retained_classes(unlearned_metrics, original_metrics):
    # Fine-tuning forgets little here (measured acc_forget 0.876): only retention is asserted.
    metrics = unlearned_metrics["finetune"]
    assert retained_failures(metrics, original_metrics) == [], metrics
    assert metrics["acc_forget"] <= original_metrics["acc_forget"]


@pytest.mark.parametrize("method", list(METHODS))
def test_run_record(method, unlearned_class3, forget_class3, train_recipe, method_overrides):
    model, record = unlearned_class3[method]
    assert not model.training
    assert record["method"] == method
    assert record["forget_set"] == "class3"
    assert (record["seed"], record["arch"], record["device"]) == (0, "mlp", "cpu")
    assert record["params"] == merge_params(method, method_overrides.get(method), train_recipe)
    assert isinstance(record["notes"], dict)
    assert math.isfinite(record["seconds"]) and record["seconds"] >= 0
    if method != "zero_output":
        assert record["seconds"] > 0
    n_retain = N_TRAIN - forget_class3["size"]
    n_forget = forget_class3["size"]
    params = record["params"]
    if method in ("retrain", "finetune"):  # full epochs over the retain set
        assert record["steps"] == params["epochs"] * math.ceil(n_retain / params["batch_size"])
        assert record["samples"] == params["epochs"] * n_retain
    elif method == "neggrad":  # stops early, at the first step at chance level (1/10) on D_f
        assert record["notes"]["target_forget_acc"] == pytest.approx(0.1)
        assert record["notes"]["stopped_early"] is True
        assert 0 < record["steps"] < params["epochs"] * math.ceil(n_forget / params["batch_size"])
        assert record["samples"] <= record["steps"] * params["batch_size"]
    elif method == "zero_output":  # no data, no training
        assert (record["steps"], record["samples"]) == (0, 0)
    else:  # every other method trains: its cost must be counted
        assert record["steps"] > 0 and record["samples"] > 0


def test_neggrad_on_random_samples(original_mlp, digits, forget_random, method_overrides, cpu):
    """NegGrad on a random 10 %: it lowers the accuracy on D_f (a no-op leaves it at 1.0; measured
    0.983, its target 0.963 not reached in 40 steps) and keeps the retained classes (a random model
    fails that; measured 0.962 against the original's 0.978)."""
    from lethe.metrics.evaluate import evaluate_model

    params = merge_params("neggrad", method_overrides.get("neggrad"))
    model, _ = run_unlearning("neggrad", original_mlp, digits, forget_random, params, arch="mlp", seed=0, device=cpu)
    after = evaluate_model(model, digits, forget_random, full=False)["metrics"]
    before = evaluate_model(original_mlp, digits, forget_random, full=False)["metrics"]
    assert after["acc_forget"] < before["acc_forget"]
    assert after["acc_test_retained"] >= before["acc_test_retained"] - 0.03
    from lethe.models.registry import build_model

    random_model = build_model("mlp", (1, 8, 8), 10, seed=123).eval()
    assert evaluate_model(random_model, digits, forget_random, full=False)["metrics"]["acc_test_retained"] < 0.5


def test_neggrad_random_target_is_the_validation_accuracy(original_mlp, digits, forget_random, method_overrides, cpu):
    """On random samples NegGrad's "auto" target is the original's accuracy on the validation
    split (forgotten samples should look unseen), not on the test set."""
    import dataclasses

    from lethe.data.tensors import Split
    from lethe.train import accuracy

    params = merge_params("neggrad", method_overrides.get("neggrad"))
    _, record = run_unlearning("neggrad", original_mlp, digits, forget_random, params, arch="mlp", seed=0, device=cpu)
    assert record["notes"]["target_forget_acc"] == accuracy(original_mlp, digits.val)
    assert accuracy(original_mlp, digits.val) != accuracy(original_mlp, digits.test)  # the two are told apart
    nan_test = Split(torch.full_like(digits.test.x, float("nan")), digits.test.y)
    _, again = run_unlearning(
        "neggrad",
        original_mlp,
        dataclasses.replace(digits, test=nan_test),
        forget_random,
        params,
        arch="mlp",
        seed=0,
        device=cpu,
    )
    assert again["notes"] == record["notes"] and again["steps"] == record["steps"]


def test_unlearning_copies_the_original(unlearned_class3, original_mlp):
    for method, (model, _) in unlearned_class3.items():
        assert model is not original_mlp, method
    # zero_output would have zeroed row 3 in place if it had not worked on a copy.
    assert original_mlp.head.weight[3].abs().sum() > 0


def test_retrain_does_not_need_the_original(digits, forget_class3, cpu):
    params = merge_params(
        "retrain",
        None,
        {"epochs": 1, "batch_size": 256, "lr": 1e-3, "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0},
    )
    model, record = run_unlearning("retrain", None, digits, forget_class3, params, arch="mlp", seed=0, device=cpu)
    assert record["steps"] == math.ceil((N_TRAIN - forget_class3["size"]) / 256)
    assert model.head.out_features == 10


@pytest.mark.parametrize("method", ["finetune", "neggrad", "zero_output"])
def test_methods_that_start_from_the_original_need_it(method, digits, forget_class3, cpu):
    with pytest.raises(ValueError, match=method):
        run_unlearning(method, None, digits, forget_class3, merge_params(method, None), arch="mlp", seed=0, device=cpu)


def test_retrain_is_deterministic(original_mlp, digits, forget_class3, cpu, unlearned_class3):
    model, record = unlearned_class3["retrain"]
    again, _ = run_unlearning(
        "retrain", original_mlp, digits, forget_class3, record["params"], arch="mlp", seed=0, device=cpu
    )
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


# --------------------------------------------------------------------------- parameters


def test_merge_params():
    assert merge_params("finetune", None) == METHODS["finetune"].defaults
    assert merge_params("finetune", {"lr": 0.5})["lr"] == 0.5
    assert merge_params("retrain", {"epochs": 2}, {"epochs": 30, "lr": 1e-3}) == {"epochs": 2, "lr": 1e-3}
    assert merge_params("zero_output", {}) == {}
    assert METHODS["finetune"].defaults["lr"] == 0.02  # merging does not mutate the registry


@pytest.mark.parametrize(
    ("method", "overrides", "where"),
    [
        ("neggrad", {"learning_rate": 0.1}, "method_params.neggrad"),
        ("finetune", {"epochs": 2, "warmup": 1}, "method_params.finetune"),
        ("zero_output", {"alpha": 1}, "method_params.zero_output"),
        ("retrain", {"dropout": 0.5}, "train"),
    ],
)
def test_merge_params_rejects_unknown_keys(method, overrides, where):
    with pytest.raises(ValueError) as info:
        merge_params(method, overrides, {"epochs": 30, "lr": 1e-3})
    message = str(info.value)
    unknown = sorted(set(overrides) - {"epochs"})
    assert str(unknown) in message
    assert repr(method) in message
    assert f"config key {where}" in message


def test_unknown_method():
    with pytest.raises(KeyError, match="no_such_method"):
        method_info("no_such_method")
    with pytest.raises(KeyError, match="no_such_method"):
        get_method("no_such_method")


# --------------------------------------------------------------------------- data views


@pytest.mark.parametrize("method", list(METHODS))
def test_data_view_gives_only_what_was_declared(method, digits, forget_class3):
    info = METHODS[method]
    view = data_view(digits, forget_class3, method)
    assert view.validation is digits.val and not hasattr(view, "test")
    assert view.num_classes == 10 and view.shape == (1, 8, 8)
    assert view.forget_classes == (3,)
    if info.needs_forget:
        assert len(view.forget) == forget_class3["size"] and bool((view.forget.y == 3).all())
    else:
        assert view.forget is None
    if info.needs_retain:
        assert len(view.retain) == len(retain_indices(forget_class3, len(digits.train)))
        assert not bool((view.retain.y == 3).any())
    else:
        assert view.retain is None


@pytest.mark.parametrize(
    ("method", "needs_forget", "needs_retain"),
    [("retrain", False, True), ("finetune", False, True), ("neggrad", True, False), ("zero_output", False, False)],
)
def test_declared_needs(method, needs_forget, needs_retain):
    assert (METHODS[method].needs_forget, METHODS[method].needs_retain) == (needs_forget, needs_retain)


def test_data_view_for_random_samples(digits, forget_random):
    view = data_view(digits, forget_random, "neggrad")
    assert view.forget_classes is None and view.retain is None
    np.testing.assert_array_equal(view.forget.y.numpy(), digits.train.y.numpy()[forget_random["indices"]])


# --------------------------------------------------------------------------- zero_output


def test_zero_output_refuses_random_samples(original_mlp, digits, forget_random, cpu):
    with pytest.raises(ValueError, match="class forgetting only"):
        data_view(digits, forget_random, "zero_output")
    with pytest.raises(ValueError, match="class forgetting only"):
        run_unlearning("zero_output", original_mlp, digits, forget_random, {}, arch="mlp", seed=0, device=cpu)
    # The method itself refuses too, whatever view it is handed.
    data = UnlearningData(
        forget=None, retain=None, validation=digits.val, num_classes=10, forget_classes=None, shape=(1, 8, 8)
    )
    with pytest.raises(ValueError, match="class forgetting"):
        get_method("zero_output")(copy.deepcopy(original_mlp), data, {}, Context(device=cpu, seed=0, arch="mlp"))


def test_zero_output_zeroes_exactly_the_forgotten_rows(original_mlp, unlearned_class3):
    model, _ = unlearned_class3["zero_output"]
    before, after = original_mlp.state_dict(), model.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        if key.startswith("body."):
            assert torch.equal(before[key], after[key]), key
    others = [c for c in range(10) if c != 3]
    assert torch.all(after["head.weight"][3] == 0) and after["head.bias"][3] == 0
    assert torch.equal(after["head.weight"][others], before["head.weight"][others])
    assert torch.equal(after["head.bias"][others], before["head.bias"][others])


def test_zero_output_on_two_classes(original_mlp, digits, y_train, cpu):
    from lethe.data.forget_sets import make_forget_set

    forget = make_forget_set("pair", {"kind": "classes", "classes": [7, 1]}, y_train, 10, "digits")
    model, _ = run_unlearning("zero_output", original_mlp, digits, forget, {}, arch="mlp", seed=0, device=cpu)
    zeroed = [c for c in range(10) if model.head.weight[c].abs().sum() == 0 and model.head.bias[c] == 0]
    assert zeroed == [1, 7]


def test_retrain_twin_is_retrain_from_an_independent_seed(unlearned_class3, digits, forget_class3):
    """The noise floor of distances to retrain: another exact unlearning, not the same model."""
    from lethe.metrics.evaluate import evaluate_model

    retrain, retrain_record = unlearned_class3["retrain"]
    twin, twin_record = unlearned_class3["retrain_twin"]
    assert twin_record["steps"] == retrain_record["steps"]
    assert twin_record["params"] == retrain_record["params"]  # the same recipe
    assert not torch.equal(twin.head.weight, retrain.head.weight)  # another initialisation and order
    a, b = (evaluate_model(m, digits, forget_class3, full=False)["metrics"] for m in (retrain, twin))
    assert a["acc_forget"] == b["acc_forget"] == 0.0  # neither saw class 3
    assert abs(a["acc_test_retained"] - b["acc_test_retained"]) < 0.03
