"""Distances on the forget set: JS (two forms), activation distance, agreement, ZRF."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lethe.metrics.distance import (
    DISTANCE_KEYS,
    distance_metrics,
    js_divergence,
    js_divergence_badt_code,
    probabilities,
    random_model,
    random_model_seed,
)
from lethe.metrics.predict import logits
from lethe.models.registry import build_model


def _random_probs(seed: int, n: int = 50, c: int = 10) -> np.ndarray:
    return probabilities(np.random.default_rng(seed).normal(0.0, 3.0, (n, c)))


# --------------------------------------------------------------------------- known answers


def test_js_known_answers():
    p, q = _random_probs(0), _random_probs(1)
    np.testing.assert_allclose(js_divergence(p, p), 0.0, atol=1e-12)
    np.testing.assert_allclose(js_divergence(p, q), js_divergence(q, p))
    assert np.all(js_divergence(p, q) > 0) and np.all(js_divergence(p, q) <= np.log(2))
    # Disjoint supports reach the bound ln 2.
    eye = np.eye(3)
    np.testing.assert_allclose(js_divergence(eye, eye[[1, 2, 0]]), np.log(2))
    # A hand-computed value: P = (1, 0), Q = (½, ½), M = (¾, ¼).
    expected = 0.5 * np.log(4 / 3) + 0.5 * (0.5 * np.log(2 / 3) + 0.5 * np.log(2))
    np.testing.assert_allclose(js_divergence(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])), expected)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
def test_badt_code_form_is_torch_kl_div_with_mean_reduction():
    p, q = _random_probs(2), _random_probs(3)
    pt, qt = torch.from_numpy(p), torch.from_numpy(q)
    m = (pt + qt) / 2
    code = 0.5 * F.kl_div(torch.log(pt), m) + 0.5 * F.kl_div(torch.log(qt), m)  # metrics.py::JSDiv
    assert js_divergence_badt_code(p, q) == pytest.approx(float(code), rel=1e-10)
    assert abs(js_divergence_badt_code(p, p)) < 1e-12
    # Not the standard JS: KL's arguments are swapped and the mean runs over n·C entries.
    assert js_divergence_badt_code(p, q) != pytest.approx(float(js_divergence(p, q).mean()), rel=1e-3)


def test_distance_metrics_known_answers():
    p, r = _random_probs(4), _random_probs(5)
    same = distance_metrics(p, p, p)
    assert set(same) == set(DISTANCE_KEYS)
    assert same["js_to_retrain"] == pytest.approx(0.0, abs=1e-12)
    assert same["activation_distance"] == pytest.approx(0.0, abs=1e-12)
    assert same["agreement_with_retrain"] == 1.0
    assert same["zrf"] == pytest.approx(1.0)  # the random model itself
    assert same["zrf_badt_code"] == pytest.approx(1.0)
    other = distance_metrics(p, r, r)
    assert 0.0 < other["js_to_retrain"] <= np.log(2)
    assert other["zrf"] == pytest.approx(1.0 - other["js_to_retrain"])
    assert 1.0 - np.log(2) <= other["zrf"] < 1.0
    # One-hot opposites: activation distance √2, no agreement.
    eye = np.eye(4)
    disjoint = distance_metrics(eye, eye[[1, 2, 3, 0]], None)
    assert disjoint["activation_distance"] == pytest.approx(np.sqrt(2))
    assert disjoint["agreement_with_retrain"] == 0.0
    assert disjoint["zrf"] is None


def test_distance_metrics_missing_inputs_and_errors():
    p = _random_probs(6)
    assert all(value is None for value in distance_metrics(p, None, None).values())
    assert all(value is None for value in distance_metrics(np.zeros((0, 10)), None, None).values())
    assert distance_metrics(torch.from_numpy(p), torch.from_numpy(p), None)["js_to_retrain"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="shape"):
        distance_metrics(p, p[:5], None)
    with pytest.raises(ValueError, match="probability"):
        distance_metrics(p * 2, p, None)
    with pytest.raises(ValueError, match=r"\(n, C\)"):
        distance_metrics(p[0], p, None)


def test_random_model_seed_is_derived_not_equal():
    seeds = [random_model_seed(s) for s in range(20)]
    assert all(derived != s for s, derived in enumerate(seeds))
    assert len(set(seeds)) == 20
    assert seeds == [random_model_seed(s) for s in range(20)]
    assert 0 <= min(seeds) and max(seeds) < 2**31


def test_random_model_is_not_the_originals_initialisation(digits):
    shape = tuple(digits.manifest["shape"])
    t_d = random_model("mlp", shape, digits.num_classes, run_seed=0)
    same_seed = build_model("mlp", shape, digits.num_classes, seed=0)
    again = random_model("mlp", shape, digits.num_classes, run_seed=0)
    assert not torch.equal(t_d.head.weight, same_seed.head.weight)
    assert torch.equal(t_d.head.weight, again.head.weight)


# --------------------------------------------------------------------------- digits, class 3


def test_distances_on_digits_class3(unlearned_class3, original_mlp, digits, forget_class3):
    forget = digits.train.subset(forget_class3["indices"])
    probs = lambda model: probabilities(logits(model, forget))  # noqa: E731
    retrain = probs(unlearned_class3["retrain"][0])
    t_d = probs(random_model("mlp", tuple(digits.manifest["shape"]), digits.num_classes, run_seed=0))
    result = {
        "original": distance_metrics(probs(original_mlp), retrain, t_d),
        "retrain": distance_metrics(retrain, retrain, t_d),
        "zero_output": distance_metrics(probs(unlearned_class3["zero_output"][0]), retrain, t_d),
        "random": distance_metrics(t_d, retrain, t_d),
    }
    # Measured: JS to retrain 0.665 (original), 0.135 (zero_output); agreement 0.000 and 0.664;
    # activation distance 1.269 and 0.409; ZRF 0.460, 0.616, retrain 0.553, random 1.
    assert result["retrain"]["js_to_retrain"] == pytest.approx(0.0, abs=1e-9)
    assert result["retrain"]["agreement_with_retrain"] == 1.0
    assert result["random"]["zrf"] == pytest.approx(1.0)
    assert result["original"]["js_to_retrain"] >= 0.5
    assert result["original"]["agreement_with_retrain"] <= 0.05
    assert result["zero_output"]["js_to_retrain"] <= 0.3
    assert result["zero_output"]["agreement_with_retrain"] >= 0.5
    assert result["original"]["activation_distance"] > 2 * result["zero_output"]["activation_distance"]
    assert result["original"]["zrf"] < result["retrain"]["zrf"] < 0.9


def test_capped_forget_sample_is_seeded_sorted_and_a_subset():
    from lethe.metrics.evaluate import capped

    indices = np.arange(100, 200)
    assert np.array_equal(capped(indices, None, 0), indices)
    assert np.array_equal(capped(indices, 500, 0), indices)
    drawn = capped(indices, 10, seed=1)
    assert len(drawn) == 10 and np.all(np.diff(drawn) > 0) and set(drawn) <= set(indices)
    assert np.array_equal(drawn, capped(indices, 10, seed=1))
    assert not np.array_equal(drawn, capped(indices, 10, seed=2))
