"""Fisher forgetting on digits / MLP, and the Gaussian it samples from.

Measured (torch 2.14.1, CPU, one thread; the conftest original; Fisher forgetting with
the code's defaults: expected Fisher on all of D_r, α = 1e-6; retained =
acc_test_retained):

========================== ==== ========== ================== ========
setting                    seed acc_forget acc_test_forgotten retained
========================== ==== ========== ================== ========
original                   0    1.000      1.000              0.975
fisher_forget α 1e-6       0    0.472      0.457              0.975
fisher_forget α 1e-6       1    0.480      0.587              0.978
fisher_forget α 1e-6       2    0.431      0.348              0.960
fisher_forget α 1e-7       0    0.309      0.261              0.978
fisher_forget α 1e-5       0    0.545      0.565              0.876
fisher_forget α 1e-4       0    0.000      0.000              0.114
zero_output                0    0.187      0.130              0.978
zero_output                1    0.480      0.609              0.980
zero_output                2    0.398      0.391              0.975
========================== ==== ========== ================== ========

(Originals of seeds 1 and 2: retained 0.983 / 0.975.) What is true on digits: class
forgetting comes from the zeroed head row, as for zero_output (the zeroed logit still wins
where every other logit is negative); the noise adds nothing targeted, because the retain
Fisher of this small, confident MLP is so small for 94 % of the entries that their
variance sits at the clamp (α·1e3) whatever they encode. Larger α wrecks the retained
classes before the forgotten one. On the 10 % random forget set (which the method never
sees), α = 1e-6 keeps D_f classified (acc_forget 0.992, acc_test 0.969 vs 0.978) and
moves both losses by about a hundredth (D_f +0.012, D_r +0.007); at α = 1e-5 both
accuracies fall together (0.926 / 0.907). Thresholds: acc_forget and acc_test_forgotten
at most FORGOTTEN (0.6; worst measured 0.587, seed 1; 0.472 on seed 0, which the tests
run), retained within KEPT (0.03; worst drop 0.015). A no-op and a destroyed model fail
them (tested). The subsampled (300 samples) and sampled-label Fisher give nearly the same
accuracies (acc_forget 0.472 and 0.463) at 28 % and a tenth of the gradient computations.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from helpers.digits_sizes import N_TRAIN
from helpers.forgetting import forgetting_failures
from helpers.methods import method_code
from torch import nn

from lethe.methodkit.base import Context, UnlearningData
from lethe.methods.catalog import METHODS, merge_params
from lethe.methods.fisher_forget import forgetting_distribution, sample_weights, unlearn
from lethe.metrics.evaluate import evaluate_model
from lethe.models.registry import Classifier, build_model
from lethe.unlearning import data_view, run_unlearning

FORGOTTEN = 0.6
KEPT = 0.03


def failures(metrics: dict, original: dict) -> list[str]:
    return forgetting_failures(metrics, original, FORGOTTEN, KEPT)


def run_ff(original, dataset, forget, overrides, cpu, seed=0):
    params = merge_params("fisher_forget", overrides)
    return run_unlearning("fisher_forget", original, dataset, forget, params, arch="mlp", seed=seed, device=cpu)


@pytest.fixture(scope="module")
def ff_class3(original_mlp, digits, forget_class3, cpu, method_overrides):
    return run_ff(original_mlp, digits, forget_class3, method_overrides.get("fisher_forget"), cpu)


def test_defaults_and_data_needs():
    info = METHODS["fisher_forget"]
    assert not info.needs_forget and info.needs_retain and not info.class_only  # class ids only
    assert info.family == "importance" and "lethe/methodkit/fisher.py" in method_code("fisher_forget")
    assert info.defaults == {"alpha": 1e-6, "fisher": "expected", "retain_samples": None, "batch_size": 64}


# --------------------------------------------------------------------------- the distribution


def test_distribution_known_answer():
    """The code's order: clamp 1/(F+1e-8), ×α, mean over dim 1, forgotten rows, ×10 for head and 1-D."""
    torch.manual_seed(0)
    model = Classifier(nn.Sequential(nn.Flatten(), nn.Linear(3, 2), nn.Tanh()), 2, 4)
    fisher = {
        "body.1.weight": torch.tensor([[1.0, 4.0, 1e-9], [0.5, 0.5, 0.5]]),
        "body.1.bias": torch.tensor([2.0, 1e-12]),
        "head.weight": torch.tensor([[1.0, 1e-9], [0.25, 0.5], [1.0, 1.0], [1e-9, 1e-9]]),
        "head.bias": torch.tensor([1.0, 0.5, 1e-9, 0.25]),
    }
    alpha = 1e-3
    mean, var = forgetting_distribution(model, fisher, alpha, forget_classes=(2, 0))
    inv = lambda f: 1.0 / (f + 1e-8)  # noqa: E731
    # Hidden weight: per output row, the mean over inputs of α·min(1/F, 1e3).
    row0 = alpha * (inv(1.0) + inv(4.0) + 1e3) / 3
    row1 = alpha * inv(0.5)
    torch.testing.assert_close(var["body.1.weight"], torch.tensor([[row0] * 3, [row1] * 3]))
    # 1-D parameters: ×10 after the clamp.
    torch.testing.assert_close(var["body.1.bias"], 10 * alpha * torch.tensor([inv(2.0), 1e3]))
    # Head: clamp at 1e2, forgotten rows 0 and 2 get μ = 0 and var 1e-4, then everything ×10.
    head_rows = [1e-4, alpha * (inv(0.25) + inv(0.5)) / 2, 1e-4, alpha * 1e2]
    torch.testing.assert_close(var["head.weight"], 10 * torch.tensor(head_rows).unsqueeze(1).expand(4, 2))
    torch.testing.assert_close(var["head.bias"], 10 * torch.tensor([1e-4, alpha * inv(0.5), 1e-4, alpha * inv(0.25)]))
    assert torch.all(mean["head.weight"][[0, 2]] == 0) and torch.all(mean["head.bias"][[0, 2]] == 0)
    assert torch.equal(mean["head.weight"][[1, 3]], model.head.weight.detach()[[1, 3]])
    assert torch.equal(mean["body.1.weight"], model.body[1].weight.detach())
    # Random-sample forgetting (no class ids): nothing is zeroed.
    mean_r, var_r = forgetting_distribution(model, fisher, alpha, forget_classes=None)
    assert torch.equal(mean_r["head.weight"], model.head.weight.detach())
    assert var_r["head.weight"][0, 0] == pytest.approx(10 * alpha * (inv(1.0) + 1e2) / 2)


def test_seeded_noise_is_reproducible_and_has_the_variance():
    model = build_model("mlp", (1, 8, 8), 10, seed=0)
    mean = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    variance = {name: torch.full_like(p, 0.04) for name, p in model.named_parameters()}
    a, b, c = copy.deepcopy(model), copy.deepcopy(model), copy.deepcopy(model)
    sample_weights(a, mean, variance, seed=7)
    sample_weights(b, mean, variance, seed=7)
    sample_weights(c, mean, variance, seed=8)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not torch.equal(a.body[1].weight, c.body[1].weight)
    w = a.body[1].weight.detach()  # 8192 draws of N(0, 0.04)
    assert abs(w.mean().item()) < 0.01 and w.std().item() == pytest.approx(0.2, rel=0.05)


# --------------------------------------------------------------------------- digits


def test_class_rows_are_zero_mean_and_the_run_is_reproducible(
    ff_class3, original_mlp, digits, forget_class3, cpu, method_overrides
):
    model, record = ff_class3
    row = model.head.weight[3].detach()  # N(0, 1e-3): 128 draws, standard error of the mean 0.0028
    assert abs(row.mean().item()) < 0.012
    assert row.std().item() == pytest.approx(1e-3**0.5, rel=0.25)
    assert abs(model.head.bias[3].item()) < 4 * 1e-3**0.5
    again, again_record = run_ff(original_mlp, digits, forget_class3, method_overrides.get("fisher_forget"), cpu)
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    assert again_record["notes"] == record["notes"]
    other, _ = run_ff(original_mlp, digits, forget_class3, method_overrides.get("fisher_forget"), cpu, seed=1)
    assert not torch.equal(other.head.weight, model.head.weight)


def test_fisher_forget_forgets_class3_and_keeps_the_rest(ff_class3, digits, forget_class3, original_metrics):
    model, record = ff_class3
    metrics = evaluate_model(model, digits, forget_class3, full=False)["metrics"]
    assert failures(metrics, original_metrics) == [], metrics
    assert metrics["acc_forget"] < original_metrics["acc_forget"] - 0.4
    n_retain = N_TRAIN - forget_class3["size"]
    assert (record["steps"], record["samples"]) == (10 * n_retain, n_retain)  # C backward passes per sample
    notes = record["notes"]
    assert notes["zeroed_classes"] == [3] and notes["fisher_samples"] == n_retain
    assert notes["clamped_fraction"] > 0.8  # measured 0.94: the noise is mostly the clamp
    assert notes["distance_to_original"] > 0


def test_checks_reject_a_no_op_and_a_destroyed_model(original_metrics, digits, forget_class3):
    assert failures(original_metrics, original_metrics)
    destroyed = build_model("mlp", (1, 8, 8), 10, seed=123).eval()
    metrics = evaluate_model(destroyed, digits, forget_class3, full=False)["metrics"]
    assert any("acc_test_retained" in f for f in failures(metrics, original_metrics)), metrics


@pytest.mark.parametrize(("overrides", "steps"), [({"retain_samples": 300}, 3000), ({"fisher": "sampled"}, None)])
def test_cheaper_fishers_still_forget(overrides, steps, original_mlp, digits, forget_class3, cpu, original_metrics):
    """300 samples × 10 classes' gradients, or one sampled-label gradient per retain sample."""
    model, record = run_ff(original_mlp, digits, forget_class3, overrides, cpu)
    assert record["steps"] == (steps or N_TRAIN - forget_class3["size"])
    metrics = evaluate_model(model, digits, forget_class3, full=False)["metrics"]
    assert failures(metrics, original_metrics) == [], metrics  # measured acc_forget 0.472 and 0.463


def test_never_reads_the_forget_samples(digits, forget_class3):
    assert data_view(digits, forget_class3, "fisher_forget").forget is None


def test_needs_the_retain_set(original_mlp, digits, cpu):
    data = UnlearningData(
        forget=None, retain=None, validation=digits.val, num_classes=10, forget_classes=(3,), shape=(1, 8, 8)
    )
    with pytest.raises(ValueError, match="retain"):
        unlearn(copy.deepcopy(original_mlp), data, merge_params("fisher_forget", None), Context(cpu, 0, "mlp"))


def test_random_samples_are_not_targeted(original_mlp, digits, forget_random, cpu):
    """The noise leaves the model near θ*: both losses move by hundredths at most, and D_f is still
    classified (measured D_f +0.012, D_r +0.007; which of the two rises more depends on the original)."""
    model, record = run_ff(original_mlp, digits, forget_random, None, cpu)
    assert record["notes"]["zeroed_classes"] == []
    view = data_view(digits, forget_random, "neggrad_plus")  # a view with both sets, for the losses

    def losses(m):
        with torch.no_grad():
            return [F.cross_entropy(m(s.x), s.y).item() for s in (view.forget, view.retain)]

    (f0, r0), (f1, r1) = losses(original_mlp), losses(model)
    assert 0 < abs(f1 - f0) < 0.05 and 0 < abs(r1 - r0) < 0.05
    assert record["notes"]["distance_to_original"] > 0
    before = evaluate_model(original_mlp, digits, forget_random, full=False)["metrics"]
    after = evaluate_model(model, digits, forget_random, full=False)["metrics"]
    assert after["acc_forget"] > 0.98 and after["acc_test"] > before["acc_test"] - 0.02
