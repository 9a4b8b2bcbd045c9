"""Forgetting Neural Networks: forgetting layers, τ schemes, folding, and the turns algorithm.

Measured on digits / MLP (torch 2.14.1, CPU, one thread; original as in conftest,
acceptance on the validation split):

========================== ========== ================== ================= ========== =====
run                        acc_forget acc_test_forgotten acc_test_retained acc_retain steps
========================== ========== ================== ================= ========== =====
original                   1.000      1.000              0.975             1.000      –
fnn defaults, class 3      0.000      0.000              0.950             0.984      204
  (accepted after 6 epochs: turn 1, unlearning epoch 4)
1 turn, no early stop      0.000      0.000              0.950             0.984      204
1 turn, τ = 1e6 (no decay) 0.691      0.761              0.978             1.000      204
fnn defaults, random10     1.000      –                  0.973 (test)      0.998      105
========================== ========== ================== ================= ========== =====

The forgetting layers, not the retain-set training alone, make the class go: with τ so
large that φ stays 1, the same epochs leave 69 % of class 3 recognised. On random-sample
forgetting there is nothing to measure on digits: the original model already scores on
D_f what it scores on test images, and the ART attack is at chance (MIA 0.45), so the
acceptance point (validation accuracy ≥ 0.95, MIA 0.5 ± 0.1) is met after the first
unlearning epoch. Without early stopping, the lowest retained-class validation accuracy of
the five turns on class 3 is 0.951, 0.943, 0.959, 0.975, 0.975 (one validation image is
0.008 of it): on digits the Ebbinghaus-like rise of each turn's low point is a matter of a
few images.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from helpers.digits_sizes import N_TRAIN
from helpers.forgetting import forgetting_failures
from helpers.methods import method_code

from lethe.data.tensors import Split
from lethe.methodkit.base import Context
from lethe.methods.catalog import METHODS, merge_params
from lethe.metrics.evaluate import evaluate_model
from lethe.models.forgetting import (
    ForgettingLayer,
    ForgettingNetwork,
    assign_tau,
    fold_forgetting_layers,
    insert_forgetting_layers,
    layer_widths,
    mean_activations,
)
from lethe.models.registry import Classifier, build_model
from lethe.unlearning import data_view, run_unlearning

# Slow (FNN runs: 25 s on 2 busy cores): make test-fast leaves it out.
pytestmark = pytest.mark.slow


FORGOTTEN = 0.2  # at most this accuracy on the forgotten class (measured 0.000)
KEPT = 0.03  # at most this drop in retained-class accuracy (measured 0.025 test, 0.016 train)
QUICK = {"turns": 2, "learn_epochs": 1, "unlearn_epochs": 2, "early_stop": False, "mia_samples": 300}


def fnn_params(method_overrides: dict, **changes) -> dict:
    params = merge_params("fnn", method_overrides.get("fnn"))
    params.update(changes)
    return params


def class_forgetting_failures(metrics: dict, original: dict) -> list[str]:
    return forgetting_failures(metrics, original, FORGOTTEN, KEPT)


# --------------------------------------------------------------------------- forgetting layers


def test_forgetting_layer_decays_as_exp_minus_t_over_tau():
    tau = torch.tensor([0.5, 1.0, 2.0, 4.0])
    layer = ForgettingLayer(tau)
    h = torch.randn(3, 4)
    assert torch.equal(layer(h), h)  # t = 0: φ = 1 exactly
    layer.set_time(2.0)
    expected = torch.tensor([math.exp(-4.0), math.exp(-2.0), math.exp(-1.0), math.exp(-0.5)])
    torch.testing.assert_close(layer.phi(), expected)
    torch.testing.assert_close(layer(h), h * expected)
    # φ falls with t and is ordered by τ: the smallest τ forgets fastest.
    layer.set_time(3.0)
    later = layer.phi()
    assert bool(torch.all(later < expected)) and bool(torch.all(later.diff() > 0))
    # Per channel on feature maps.
    maps = torch.ones(2, 4, 3, 3)
    torch.testing.assert_close(layer(maps)[0, :, 1, 1], later)


def test_forgetting_layer_rejects_bad_values():
    with pytest.raises(ValueError, match="positive"):
        ForgettingLayer([1.0, 0.0])
    with pytest.raises(ValueError, match="t must be"):
        ForgettingLayer([1.0]).set_time(-1)
    with pytest.raises(ValueError, match="width 2"):
        ForgettingLayer([1.0, 2.0])(torch.ones(1, 3))


@pytest.mark.parametrize("layers", ["1L", "2L"])
def test_inserted_layers_are_the_identity_at_t0(original_mlp, digits, layers):
    widths = layer_widths(original_mlp)
    taus = {name: torch.linspace(1.0, 10.0, n) for name, n in widths.items()}
    net = insert_forgetting_layers(original_mlp, layers, taus)
    assert set(net.forgetting_layers()) == ({"fl2"} if layers == "1L" else {"fl1", "fl2"})
    with torch.no_grad():
        assert torch.equal(net(digits.test.x), original_mlp(digits.test.x))


def test_insertion_places_fl1_on_hidden_features_and_fl2_on_logits(original_mlp):
    assert layer_widths(original_mlp) == {"fl1": 128, "fl2": 10}
    cnn = build_model("cnn", (1, 8, 8), 10, seed=0)
    assert layer_widths(cnn) == {"fl1": 128, "fl2": 10}
    with pytest.raises(ValueError, match="layers must be"):
        insert_forgetting_layers(original_mlp, "3L", {})
    with pytest.raises(ValueError, match="FL1 width"):
        ForgettingNetwork(original_mlp, ForgettingLayer(torch.ones(5)), None)


# --------------------------------------------------------------------------- τ schemes


def test_tau_schemes():
    activation = torch.tensor([0.3, 2.0, -1.0, 0.9, 0.0])
    assert torch.equal(assign_tau("fixed", 5, tau=7.0), torch.full((5,), 7.0))
    torch.testing.assert_close(assign_tau("ordered", 5, tau_min=1, tau_max=9), torch.tensor([1.0, 3.0, 5.0, 7.0, 9.0]))
    rank = assign_tau("rank", 5, activation=activation, tau_min=1, tau_max=9)
    # most activated (neuron 1) gets the smallest τ, least activated (neuron 2) the largest
    torch.testing.assert_close(rank, torch.tensor([5.0, 1.0, 9.0, 3.0, 7.0]))
    assert int(rank.argmin()) == int(activation.argmax())
    random_a = assign_tau("random", 5, tau_min=1, tau_max=9, generator=torch.Generator().manual_seed(0))
    random_b = assign_tau("random", 5, tau_min=1, tau_max=9, generator=torch.Generator().manual_seed(0))
    assert torch.equal(random_a, random_b)  # seeded
    assert torch.equal(random_a.sort().values, torch.tensor([1.0, 3.0, 5.0, 7.0, 9.0]))  # the same ladder
    with pytest.raises(ValueError, match="mean activation"):
        assign_tau("rank", 5)
    with pytest.raises(ValueError, match="scheme must be"):
        assign_tau("sorted", 5)


def test_top30_ranks_only_the_30_most_activated():
    activation = torch.randn(128, generator=torch.Generator().manual_seed(0))
    tau = assign_tau("top30", 128, activation=activation, tau_min=1, tau_max=10, tau_rest=1e6)
    ranked = tau < 1e6
    assert int(ranked.sum()) == 30
    top = set(torch.topk(activation, 30).indices.tolist())
    assert set(torch.nonzero(ranked).flatten().tolist()) == top
    assert float(tau[ranked].min()) == 1.0 and float(tau[ranked].max()) == 10.0
    assert int(tau.argmin()) == int(activation.argmax())
    # with fewer neurons than top_k (the 10 logits), top30 is rank
    few = activation[:10]
    assert torch.equal(assign_tau("top30", 10, activation=few), assign_tau("rank", 10, activation=few))


def test_rank_on_class3_makes_the_class3_logit_forget_fastest(original_mlp, digits, forget_class3):
    view = data_view(digits, forget_class3, "fnn")
    activations = mean_activations(original_mlp, view.forget)
    assert activations["fl1"].shape == (128,) and activations["fl2"].shape == (10,)
    tau = assign_tau("rank", 10, activation=activations["fl2"])
    assert int(tau.argmin()) == 3


# --------------------------------------------------------------------------- folding


@pytest.mark.parametrize("layers", ["1L", "2L"])
def test_folding_gives_the_same_outputs_as_the_network(original_mlp, digits, layers):
    model = copy.deepcopy(original_mlp)
    generator = torch.Generator().manual_seed(0)
    taus = {name: 0.5 + 10 * torch.rand(n, generator=generator) for name, n in layer_widths(model).items()}
    net = insert_forgetting_layers(model, layers, taus)
    net.set_time(3.0)
    with torch.no_grad():
        before = net(digits.test.x)
        folded = fold_forgetting_layers(net)
        after = folded(digits.test.x)
    assert type(folded) is Classifier
    assert not torch.allclose(before, original_mlp(digits.test.x).detach())  # φ(3) did change the outputs
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    # a plain checkpoint: loads into the registry's architecture
    fresh = build_model("mlp", (1, 8, 8), 10)
    fresh.load_state_dict(folded.state_dict())


def test_folding_on_a_cnn(digits):
    model = build_model("cnn", (1, 8, 8), 10, seed=0).eval()
    taus = {name: torch.linspace(1.0, 5.0, n) for name, n in layer_widths(model).items()}
    net = insert_forgetting_layers(model, "2L", taus)
    net.set_time(2.0)
    with torch.no_grad():
        before = net(digits.test.x[:64])
        torch.testing.assert_close(fold_forgetting_layers(net)(digits.test.x[:64]), before, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- the turns algorithm


def run_fnn(model, digits, forget, params, cpu):
    return run_unlearning("fnn", model, digits, forget, params, arch="mlp", seed=0, device=cpu)


def test_catalog_entry():
    info = METHODS["fnn"]
    assert (info.needs_forget, info.needs_retain, info.needs_original, info.class_only) == (True, True, True, False)
    assert {"lethe/models/forgetting.py", "lethe/metrics/mia.py"} <= method_code("fnn")
    d = info.defaults
    assert (d["layers"], d["scheme"], d["turns"], d["learn_epochs"], d["unlearn_epochs"]) == ("2L", "rank", 5, 2, 4)
    assert (d["acc_threshold"], d["mia_tolerance"], d["fold"]) == (0.95, 0.1, True)


def test_trajectory_has_one_entry_per_epoch(original_mlp, digits, forget_class3, cpu, method_overrides):
    params = fnn_params(method_overrides, **QUICK)
    model, record = run_fnn(original_mlp, digits, forget_class3, params, cpu)
    trajectory = record["notes"]["trajectory"]
    assert [(e["turn"], e["phase"], e["epoch"], e["t"]) for e in trajectory] == [
        (1, "learn", 1, 0.0),
        (1, "unlearn", 1, 1.0),
        (1, "unlearn", 2, 2.0),
        (2, "learn", 1, 0.0),
        (2, "unlearn", 1, 1.0),
        (2, "unlearn", 2, 2.0),
    ]
    keys = {"turn", "phase", "epoch", "t", "loss", "val_acc", "val_acc_retained", "retain_acc", "forget_acc", "mia"}
    for entry in trajectory:
        assert keys <= set(entry) and not any(key.startswith("test") for key in entry)
        assert 0 <= entry["mia"] <= 1 and 0 <= entry["val_acc"] <= 1
    n_retain = N_TRAIN - forget_class3["size"]
    assert record["steps"] == 6 * math.ceil(n_retain / params["batch_size"])
    assert record["samples"] == 6 * n_retain
    assert record["notes"]["accepted"] is False and record["notes"]["final_t"] == 2.0
    json.dumps(record)  # the run record is written as JSON
    assert type(model) is Classifier


def test_t_keeps_growing_without_reset(original_mlp, digits, forget_class3, cpu, method_overrides):
    params = fnn_params(method_overrides, **QUICK, reset_t_each_turn=False)
    _, record = run_fnn(original_mlp, digits, forget_class3, params, cpu)
    assert [e["t"] for e in record["notes"]["trajectory"]] == [0.0, 1.0, 2.0, 2.0, 3.0, 4.0]


def test_early_stopping_shortens_the_trajectory(original_mlp, digits, forget_class3, cpu, method_overrides):
    # Thresholds every epoch meets: the run stops at the first unlearning epoch (learning
    # epochs before any forgetting are not eligible).
    params = fnn_params(method_overrides, **{**QUICK, "early_stop": True}, acc_threshold=0.0, mia_tolerance=0.5)
    _, record = run_fnn(original_mlp, digits, forget_class3, params, cpu)
    trajectory = record["notes"]["trajectory"]
    assert [(e["phase"], e["t"]) for e in trajectory] == [("learn", 0.0), ("unlearn", 1.0)]
    assert record["notes"]["accepted"] is True
    # Thresholds no epoch meets: the full schedule runs.
    params = fnn_params(method_overrides, **{**QUICK, "early_stop": True}, acc_threshold=1.01)
    _, record = run_fnn(original_mlp, digits, forget_class3, params, cpu)
    assert len(record["notes"]["trajectory"]) == 6 and record["notes"]["accepted"] is False


def test_fnn_forgets_class3_and_keeps_the_rest(unlearned_class3, original_metrics, original_mlp, digits, forget_class3):
    model, record = unlearned_class3["fnn"]  # the registry defaults (the tests set no fnn values)
    metrics = evaluate_model(model, digits, forget_class3)["metrics"]
    assert class_forgetting_failures(metrics, original_metrics) == [], metrics
    assert metrics["acc_forget"] < original_metrics["acc_forget"] - 0.5
    assert record["notes"]["trajectory"] and record["steps"] > 0
    # The checks are not vacuous: the original (a no-op) and a destroyed model fail them.
    assert class_forgetting_failures(original_metrics, original_metrics)
    destroyed = copy.deepcopy(original_mlp)
    with torch.no_grad():
        destroyed.head.weight.normal_(generator=torch.Generator().manual_seed(0))
    destroyed_metrics = evaluate_model(destroyed, digits, forget_class3)["metrics"]
    assert class_forgetting_failures(destroyed_metrics, original_metrics)


def test_the_forgetting_layers_do_the_forgetting(original_mlp, digits, forget_class3, cpu, method_overrides):
    """The same epochs on D_r with φ held at 1 (τ huge) leave most of class 3 recognised."""
    one_turn = {"turns": 1, "early_stop": False, "mia_samples": 300}
    forgetting, _ = run_fnn(original_mlp, digits, forget_class3, fnn_params(method_overrides, **one_turn), cpu)
    no_decay = fnn_params(method_overrides, **one_turn, scheme="fixed", tau=1e6)
    plain, _ = run_fnn(original_mlp, digits, forget_class3, no_decay, cpu)
    with_layers = evaluate_model(forgetting, digits, forget_class3)["metrics"]["acc_forget"]
    without = evaluate_model(plain, digits, forget_class3)["metrics"]["acc_forget"]
    assert with_layers <= FORGOTTEN  # measured 0.000
    assert without >= 0.4  # measured 0.691


def test_fnn_on_random_samples(original_mlp, digits, forget_random, cpu, method_overrides):
    model, record = run_fnn(original_mlp, digits, forget_random, fnn_params(method_overrides, mia_samples=300), cpu)
    metrics = evaluate_model(model, digits, forget_random)["metrics"]
    original = evaluate_model(original_mlp, digits, forget_random)["metrics"]
    assert metrics["acc_test"] >= original["acc_test"] - KEPT
    assert metrics["acc_retain"] >= original["acc_retain"] - KEPT
    trajectory = record["notes"]["trajectory"]
    assert trajectory and all(e["val_acc"] == e["val_acc_retained"] for e in trajectory)
    if record["notes"]["accepted"]:
        last = trajectory[-1]
        assert last["val_acc"] >= 0.95 and abs(last["mia"] - 0.5) <= 0.1


def test_without_folding_the_layers_are_dropped(original_mlp, digits, forget_class3, cpu, method_overrides):
    params = fnn_params(method_overrides, **QUICK, fold=False)
    model, _ = run_fnn(original_mlp, digits, forget_class3, params, cpu)
    assert type(model) is Classifier and not any(isinstance(m, ForgettingLayer) for m in model.modules())


def test_fnn_rejects_an_unknown_accuracy(original_mlp, digits, forget_class3, cpu, method_overrides):
    from lethe.methods.fnn import unlearn

    view = data_view(digits, forget_class3, "fnn")
    with pytest.raises(ValueError, match="accept_on"):
        unlearn(
            copy.deepcopy(original_mlp),
            view,
            fnn_params(method_overrides, accept_on="train"),
            Context(device=cpu, seed=0, arch="mlp"),
        )
    with pytest.raises(ValueError, match="the test set is the evaluation's; use 'validation'"):
        unlearn(
            copy.deepcopy(original_mlp),
            view,
            fnn_params(method_overrides, accept_on="test"),
            Context(device=cpu, seed=0, arch="mlp"),
        )


# --------------------------------------------------------------------------- no selection on the evaluation


def scrambled(split: Split) -> Split:
    """``split`` with every image NaN and every label shifted: useless to anything that reads it."""
    return Split(torch.full_like(split.x, float("nan")), (split.y + 1) % 10)


def fnn_run(original_mlp, dataset, forget, params, cpu):
    model, record = run_fnn(original_mlp, dataset, forget, params, cpu)
    return model.state_dict(), record["notes"]["trajectory"]


@pytest.mark.parametrize("forget", ["forget_class3", "forget_random"])
def test_acceptance_never_sees_the_test_set(original_mlp, digits, forget, cpu, method_overrides, request):
    """FNN's accuracy and attack run on the validation split: a scrambled test set changes
    nothing (weights and trajectory bit-identical), a scrambled validation split changes the run."""
    import dataclasses

    forget = request.getfixturevalue(forget)
    params = fnn_params(method_overrides, **QUICK)
    weights, trajectory = fnn_run(original_mlp, digits, forget, params, cpu)
    no_test = dataclasses.replace(digits, test=scrambled(digits.test))
    weights_no_test, trajectory_no_test = fnn_run(original_mlp, no_test, forget, params, cpu)
    assert trajectory_no_test == trajectory
    assert all(torch.equal(weights[k], weights_no_test[k]) for k in weights)
    # Not vacuous: the validation split is what the acceptance test reads.
    other_val = dataclasses.replace(digits, val=scrambled(digits.val))
    _, trajectory_other = fnn_run(original_mlp, other_val, forget, params, cpu)
    assert [e["val_acc"] for e in trajectory_other] != [e["val_acc"] for e in trajectory]
    assert all(e["val_acc"] < 0.2 for e in trajectory_other)  # NaN images: one class predicted


def test_no_method_is_handed_the_test_set(digits, forget_class3):
    """The data view has a validation split and no test set, for every method."""
    import dataclasses

    from lethe.methodkit.base import UnlearningData

    assert "test" not in {f.name for f in dataclasses.fields(UnlearningData)}
    for method in METHODS:
        assert data_view(digits, forget_class3, method).validation is digits.val


def test_fnn_without_a_validation_split_says_what_to_do(original_mlp, digits, forget_class3, cpu, method_overrides):
    import dataclasses

    empty = Split(digits.val.x[:0], digits.val.y[:0])
    with pytest.raises(ValueError, match="data.validation"):
        run_fnn(original_mlp, dataclasses.replace(digits, val=empty), forget_class3, fnn_params(method_overrides), cpu)


def test_mean_activations_rejects_an_empty_forget_set(original_mlp):
    with pytest.raises(ValueError, match="empty"):
        mean_activations(original_mlp, Split(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)))
