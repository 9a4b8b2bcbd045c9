"""Linear probes of the penultimate features: solver, few-shot draws, and forgetting vs. hiding on digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from lethe.metrics.distance import random_model
from lethe.metrics.evaluate import evaluate_model
from lethe.metrics.probe import PROBE_KEYS, features, fewshot_indices, fit_linear_probe, probe_metrics, probe_predict


def _blobs(seed: int, n: int = 240, d: int = 6, k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.normal(0.0, 1.5, (k, d))
    x = centres[y] + rng.normal(0.0, 1.0, (n, d))
    return torch.from_numpy(x), torch.from_numpy(y)


# --------------------------------------------------------------------------- the solver


def test_probe_matches_sklearn_logistic_regression():
    x, y = _blobs(0)
    W, b = fit_linear_probe(x, y, 3, C=1.0)
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(W.numpy().T, reference.coef_, atol=1e-4)
    np.testing.assert_allclose(b.numpy(), reference.intercept_, atol=1e-4)
    assert probe_predict(W, b, x).tolist() == reference.predict(x.numpy()).tolist()


def test_batched_probes_equal_separate_fits():
    problems = [_blobs(seed, n=60) for seed in range(3)]
    x = torch.stack([p[0] for p in problems])
    y = torch.stack([p[1] for p in problems])
    W, b = fit_linear_probe(x, y, 3, C=0.5)
    assert W.shape == (3, 6, 3) and b.shape == (3, 3)
    for i, (xi, yi) in enumerate(problems):
        Wi, bi = fit_linear_probe(xi, yi, 3, C=0.5)
        # Same optimum up to the solver's stopping point (measured: within 1e-5).
        np.testing.assert_allclose(W[i].numpy(), Wi.numpy(), atol=1e-4)
        np.testing.assert_allclose(b[i].numpy(), bi.numpy(), atol=1e-4)
        assert probe_predict(W[i], b[i], xi).tolist() == probe_predict(Wi, bi, xi).tolist()
    # Several probes predict on one shared feature matrix.
    assert probe_predict(W, b, problems[0][0]).shape == (3, 60)


def test_fewer_samples_than_features_are_solved_in_their_span():
    """A few-shot problem (n < d) is solved on its samples' coordinates: the same optimum as
    sklearn's in all d dimensions, and W orthogonal to everything the samples do not span."""
    x, y = _blobs(3, n=12, d=40, k=3)
    W, b = fit_linear_probe(x, y, 3, C=1.0)
    reference = LogisticRegression(C=1.0, tol=1e-12, max_iter=100_000).fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(W.numpy().T, reference.coef_, atol=1e-5)
    np.testing.assert_allclose(b.numpy(), reference.intercept_, atol=1e-5)
    _, _, vt = np.linalg.svd(x.numpy(), full_matrices=True)
    np.testing.assert_allclose(vt[12:] @ W.numpy(), 0.0, atol=1e-12)


def test_probe_stops_at_its_gradient_tolerance():
    x, y = _blobs(1)
    W, b = fit_linear_probe(x, y, 3, C=1.0, tol=1e-9)
    W.requires_grad_(True), b.requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(x @ W + b, y, reduction="mean") + W.pow(2).sum() / (2 * len(x))
    loss.backward()
    assert max(W.grad.abs().max().item(), b.grad.abs().max().item()) <= 1e-9
    assert abs(b.detach().sum().item()) < 1e-12  # the bias stays in its zero-sum subspace


def test_probe_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="fit_linear_probe"):
        fit_linear_probe(torch.zeros(5, 2), torch.zeros(4, dtype=torch.long), 2)


def test_fewshot_indices_are_balanced_and_seeded():
    y = np.repeat(np.arange(4), 10)
    index = fewshot_indices(y, 4, shots=3, draws=5, seed=1)
    assert index.shape == (5, 12)
    for row in index:
        assert np.bincount(y[row], minlength=4).tolist() == [3, 3, 3, 3]
        assert len(set(row.tolist())) == 12
    np.testing.assert_array_equal(index, fewshot_indices(y, 4, shots=3, draws=5, seed=1))
    assert not np.array_equal(index, fewshot_indices(y, 4, shots=3, draws=5, seed=2))
    with pytest.raises(ValueError, match="fewer than shots"):
        fewshot_indices(y, 4, shots=11, draws=1, seed=0)


# --------------------------------------------------------------------------- digits, class 3


@pytest.fixture(scope="module")
def probes(unlearned_class3, original_mlp, digits, forget_class3):
    models = {
        "original": original_mlp,
        "retrain": unlearned_class3["retrain"][0],
        "zero_output": unlearned_class3["zero_output"][0],
        "random": random_model("mlp", tuple(digits.manifest["shape"]), digits.num_classes, run_seed=0),
    }
    return {name: probe_metrics(model, digits, forget_class3, seed=0) for name, model in models.items()}


def test_probe_keys_and_ranges(probes):
    for result in probes.values():
        assert set(PROBE_KEYS) <= set(result)
        for key in ("probe_acc_forgotten", "probe_acc_retained", "probe_fewshot_acc_forgotten"):
            assert 0.0 <= result[key] <= 1.0
        assert result["probe_dr_acc_forget"] is None and result["probe_dr_acc_test"] is None


def test_zero_output_hides_class3_the_probe_finds_it(probes, unlearned_class3, digits, forget_class3, original_mlp):
    """The known answer: output accuracy on class 3 is near 0, the features still hold the class."""
    model, _ = unlearned_class3["zero_output"]
    output = evaluate_model(model, digits, forget_class3)["metrics"]
    # Measured: acc_test_forgotten 0.109 (the zeroed logit still wins where all others are negative).
    assert output["acc_test_forgotten"] <= 0.25
    # Measured: full probe 1.000 on class 3, 0.975 on the rest.
    assert probes["zero_output"]["probe_acc_forgotten"] >= 0.95
    assert probes["zero_output"]["probe_acc_retained"] >= 0.95
    # The body is the original's, so every probe reading is the original's, exactly.
    for key in PROBE_KEYS:
        assert probes["zero_output"][key] == probes["original"][key]
    np.testing.assert_array_equal(features(model, digits.test).numpy(), features(original_mlp, digits.test).numpy())


def test_retrain_features_separate_the_unseen_class_with_enough_labels(probes):
    """Retrain never saw class 3, yet the full probe recovers it: the reading is linear separability.

    Measured: retrain 1.000 (random MLP 0.978). The few-shot probe tells them apart:
    forgotten-class accuracy 0.939 (original) against 0.877 (retrain) and 0.838 (random);
    on the retained classes both sit at 0.93.
    """
    assert probes["retrain"]["probe_acc_forgotten"] >= 0.95
    assert probes["random"]["probe_acc_forgotten"] >= 0.9
    fewshot = {name: result["probe_fewshot_acc_forgotten"] for name, result in probes.items()}
    assert fewshot["original"] >= 0.9
    assert fewshot["original"] - fewshot["retrain"] >= 0.03
    assert fewshot["original"] - fewshot["random"] >= 0.05
    retained = {name: result["probe_fewshot_acc_retained"] for name, result in probes.items()}
    assert abs(retained["original"] - retained["retrain"]) <= 0.03


def test_random_sample_forgetting_uses_the_retain_set_probe(original_mlp, digits, forget_random):
    before = [p.detach().clone() for p in original_mlp.parameters()]
    result = probe_metrics(original_mlp, digits, forget_random, seed=0, draws=0)
    for key in ("probe_acc_forgotten", "probe_acc_retained", "probe_fewshot_acc_forgotten"):
        assert result[key] is None
    # Measured: 1.000 on the forget samples, 0.978 on the test set.
    assert result["probe_dr_acc_forget"] >= 0.95
    assert result["probe_dr_acc_test"] >= 0.9
    assert all(torch.equal(a, b) for a, b in zip(before, original_mlp.parameters(), strict=True))
