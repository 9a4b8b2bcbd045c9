"""The ART black-box membership-inference attack (lethe.metrics.mia).

Measured on digits (CPU, one thread): an MLP that memorised 200 randomly labelled
training images (membership is then all it knows about them) gets verdicts 0.90 / 0.84
on unseen members against 0.32 / 0.27 on non-members (seeds 0 / 1), with held-out
attack accuracy 0.81. A model with constant outputs gives the attack only the labels:
held-out accuracy 0.36–0.59 over seeds 0–4 (mean 0.46), membership probability
0.49–0.50, and the same verdict for members and non-members (largest difference 0.007).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from lethe.data.tensors import Split
from lethe.metrics.mia import art_blackbox_mia
from lethe.models.registry import build_model
from lethe.train import accuracy, fit


@pytest.fixture(scope="module")
def memorised(digits):
    """(model, attack members, attack non-members, unseen members, unseen non-members)."""
    labels = torch.randint(0, 10, (len(digits.train),), generator=torch.Generator().manual_seed(0))
    data = Split(digits.train.x, labels)
    members, others = data.subset(np.arange(200)), data.subset(np.arange(200, len(data)))
    model = build_model("mlp", (1, 8, 8), 10, seed=0)
    fit(model, members, epochs=200, batch_size=32, lr=3e-3, seed=0)
    assert accuracy(model, members) == 1.0 and accuracy(model, others) < 0.2
    return (
        model,
        members.subset(np.arange(100)),
        others.subset(np.arange(600)),
        members.subset(np.arange(100, 200)),
        others.subset(np.arange(600, 700)),
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_memorised_members_score_far_above_non_members(memorised, seed):
    model, members, nonmembers, unseen_members, unseen_nonmembers = memorised
    on_members = art_blackbox_mia(model, members, nonmembers, unseen_members, seed=seed)
    on_nonmembers = art_blackbox_mia(model, members, nonmembers, unseen_nonmembers, seed=seed)
    assert on_members["mia"] >= 0.7  # measured 0.90, 0.84
    assert on_nonmembers["mia"] <= 0.45  # measured 0.32, 0.27
    assert on_members["mia"] - on_nonmembers["mia"] >= 0.35
    assert on_members["attack_acc"] >= 0.7  # measured 0.81
    assert on_members["member_rate"] > on_members["nonmember_rate"]


def test_a_constant_model_is_at_chance(constant_model, digits):
    results = []
    for seed in range(3):
        on_train = art_blackbox_mia(constant_model, digits.train, digits.test, digits.train, seed=seed)
        on_test = art_blackbox_mia(constant_model, digits.train, digits.test, digits.test, seed=seed)
        assert abs(on_train["mia"] - on_test["mia"]) <= 0.05  # measured ≤ 0.007
        assert abs(on_train["mia_proba"] - 0.5) <= 0.05  # measured 0.49–0.50
        results.append(on_train["attack_acc"])
    assert abs(np.mean(results) - 0.5) <= 0.1  # measured 0.48


def test_seeded_and_pure(memorised):
    model, members, nonmembers, unseen_members, _ = memorised
    before = copy.deepcopy(model.state_dict())
    a = art_blackbox_mia(model, members, nonmembers, unseen_members, seed=3, max_samples=60)
    b = art_blackbox_mia(model, members, nonmembers, unseen_members, seed=3, max_samples=60)
    assert a == b
    assert (a["n_attack_train"], a["n_attack_holdout"], a["n_target"]) == (60, 60, 60)
    assert a["attack"] == "rf" and not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_other_attack_models_run(memorised):
    model, members, nonmembers, unseen_members, _ = memorised
    for attack in ("lr", "gb"):
        result = art_blackbox_mia(model, members, nonmembers, unseen_members, seed=0, attack=attack)
        assert 0 <= result["mia"] <= 1 and result["attack"] == attack


def test_bad_arguments(memorised):
    model, members, nonmembers, unseen_members, _ = memorised
    with pytest.raises(ValueError, match="attack must be"):
        art_blackbox_mia(model, members, nonmembers, unseen_members, seed=0, attack="xgb")
    with pytest.raises(ValueError, match="features must be"):
        art_blackbox_mia(model, members, nonmembers, unseen_members, seed=0, features="loss")
    with pytest.raises(ValueError, match="at least 4"):
        art_blackbox_mia(model, members.subset([0, 1]), nonmembers, unseen_members, seed=0)
