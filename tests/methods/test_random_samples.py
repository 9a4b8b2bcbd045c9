"""Every method that accepts random-sample forgetting, on digits' random 10 %: it must move the
forget samples towards unseen data and keep the rest, and a no-op, a random model and a model
that only degrades everything must fail the same checks.

Accuracy cannot tell these apart on digits (the original fits D_f at 1.00 and classifies unseen
images at 0.97), so the forgetting check reads the losses. With L_f, L_r and L_v the mean
cross-entropy on D_f, on D_r and on the validation split,

    moved = (L_f - L_r) / (L_v - L_r)

is about 0 for a model that treats D_f like the data it trained on (the original: a no-op) and
about 1 for one that treats it like unseen data (retrain). A method passes when ``moved`` is at
least MOVED and its retained-class test accuracy stays within KEPT of the original's; a random
model fails the second, and so does a model whose weights are all shrunk towards zero (which
raises every loss, L_f with it). Retrain reaches 0.27 here; MOVED is 0.2.

At the tests' settings (helpers.settings' METHOD_OVERRIDES, picked for class 3) six methods pass:
retrain, NegGrad (0.24), SISA (0.29), SalUn (0.51), random labels (0.27) and influence
unlearning (0.29). The other fourteen are pinned as measured in WEAK: twelve move D_f less than a
sixth of the way (fine-tuning, FNN, PBU, NegGrad+, SCRUB, l1-sparse, SSD, Fisher forgetting,
Boundary Expanding, EU-k and CF-k at k 1, SCRUB+R: indistinguishable from a no-op by this
check), and Bad Teaching and Boundary Shrink move it at a cost of 5 points of retained accuracy.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from helpers.methods import unlearn_each
from helpers.moved import moved
from helpers.settings import TRAIN_RECIPE

from lethe.methods.catalog import METHODS, merge_params
from lethe.metrics.evaluate import evaluate_model
from lethe.models.registry import build_model
from lethe.unlearning import run_unlearning

MOVED = 0.2  # at least this share of the way from D_r's loss to unseen data's, on D_f
KEPT = 0.03  # at most this drop in retained test accuracy
RANDOM_METHODS = [m for m, info in METHODS.items() if not info.class_only and m != "retrain_twin"]
# Runs at the tests' settings that fail the check (measured: moved, acc_test_retained; the original's
# retained accuracy is 0.978), pinned within TOLERANCE so that a fix or a regression shows.
WEAK: dict[str, tuple[float, float]] = {
    "finetune": (0.017, 0.978),
    "fnn": (0.079, 0.973),
    "pbu": (0.015, 0.976),
    "bad_teaching": (1.092, 0.931),  # moves D_f past unseen data, and loses 4.7 points of retained accuracy
    "neggrad_plus": (0.004, 0.976),
    "scrub": (0.118, 0.973),
    "l1_sparse": (0.145, 0.973),
    "ssd": (-0.010, 0.978),
    "fisher_forget": (0.024, 0.969),
    "boundary_shrink": (0.353, 0.924),  # moves it, and loses 5.3 points
    "boundary_expand": (0.039, 0.969),
    "eu_k": (0.008, 0.969),  # k 1: a new head on the original's features (tests/methods/test_last_layers.py)
    "cf_k": (0.025, 0.976),
    "scrub_r": (-0.015, 0.978),  # the MIA notebook's SGD at lr 5e-4 never leaves θ* (tests/methods/test_scrub_r.py)
}
TOLERANCE = 0.05


def failures(model, digits, forget, original_acc: float) -> list[str]:
    out = []
    m = moved(model, digits, forget)
    if not m >= MOVED:
        out.append(f"moved {m:.3f} < {MOVED}")
    acc = evaluate_model(model, digits, forget, full=False)["metrics"]["acc_test_retained"]
    if acc < original_acc - KEPT:
        out.append(f"acc_test_retained {acc:.3f} < original {original_acc:.3f} - {KEPT}")
    return out


@pytest.fixture(scope="module")
def original_acc(original_mlp, digits, forget_random) -> float:
    return evaluate_model(original_mlp, digits, forget_random, full=False)["metrics"]["acc_test_retained"]


@pytest.fixture(scope="module")
def unlearned_random(original_mlp, digits, forget_random, cpu, request):
    return unlearn_each(RANDOM_METHODS, original_mlp, digits, forget_random, cpu, request)


def test_the_checks_fail_a_no_op_a_random_model_and_a_shrunk_one(original_mlp, digits, forget_random, original_acc):
    assert abs(moved(original_mlp, digits, forget_random)) < 0.1  # the original treats D_f like D_r
    assert failures(original_mlp, digits, forget_random, original_acc)
    random_model = build_model("mlp", (1, 8, 8), 10, seed=123).eval()
    assert failures(random_model, digits, forget_random, original_acc)
    shrunk = copy.deepcopy(original_mlp)
    with torch.no_grad():
        for p in shrunk.parameters():
            p.mul_(0.2)
    assert failures(shrunk, digits, forget_random, original_acc)


def test_retrain_passes(unlearned_random, digits, forget_random):
    """The reference: retrain moves D_f 0.27 of the way (the MLP generalises almost as well as it fits,
    so unseen data's loss is close to D_r's, and D_f's under retrain is in between)."""
    assert moved(unlearned_random["retrain"][0], digits, forget_random) > MOVED


@pytest.mark.parametrize("method", RANDOM_METHODS)
def test_method_forgets_a_random_sample_and_keeps_the_rest(
    method, unlearned_random, digits, forget_random, original_acc
):
    model, _ = unlearned_random[method]
    found = failures(model, digits, forget_random, original_acc)
    if method in WEAK:
        assert found, f"{method} now passes: remove it from WEAK"
        expected_moved, expected_acc = WEAK[method]
        assert moved(model, digits, forget_random) == pytest.approx(expected_moved, abs=TOLERANCE)
        acc = evaluate_model(model, digits, forget_random, full=False)["metrics"]["acc_test_retained"]
        assert acc == pytest.approx(expected_acc, abs=TOLERANCE)
        return
    assert found == []


# WEAK at the tests' settings, and forgetting at the values the random-sample search shipped for
# digits (config/tuned/digits/mlp/METHOD-random_samples.yaml), which it scores by the forget-loss
# shift as well as the gap (lethe.tuning.search). Measured: moved 0.320, 0.331, 0.225, 0.677; retained accuracy
# 0.953, 0.958, 0.962, 0.978 (the original's 0.978). EU-k's search chose k 4, which on the two-layer MLP
# resets every layer: a retrain with EU-k's recipe. CF-k's (k 3: all layers fine-tuned, moved 0.050) and
# SCRUB+R's (-0.015) searched values still fail.
SEARCHED_PASS = ("finetune", "pbu", "bad_teaching", "eu_k")


@pytest.mark.parametrize("method", SEARCHED_PASS)
def test_the_searched_values_forget_where_the_tests_settings_do_not(
    method, original_mlp, digits, forget_random, cpu, original_acc
):
    import yaml

    shipped = Path(__file__).resolve().parents[2] / f"config/tuned/digits/mlp/{method}-random_samples.yaml"
    params = merge_params(method, yaml.safe_load(shipped.read_text())["best"], TRAIN_RECIPE)
    model, _ = run_unlearning(method, original_mlp, digits, forget_random, params, arch="mlp", seed=0, device=cpu)
    assert method in WEAK
    assert failures(model, digits, forget_random, original_acc) == []
