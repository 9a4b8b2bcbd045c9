"""Every method on a small network with batch normalisation, digits / class 3.

The paper configs run every method on ResNet-18 and AllCNN, whose batch normalisation layers
keep running statistics that a method can corrupt (a forward pass in training mode on the
forget set moves them) or leave stale; the MLP and CNN of the other tests have none. Here every
method runs on ``bnnet`` (two 3×3 convolutions, each followed by BatchNorm and ReLU, global
average pooling, a linear head; registered for this module only), trained like the original
(Adam 1e-3, batch 32, 30 epochs, seed 0), with the hyperparameters the method tests use
(helpers.settings' METHOD_OVERRIDES). Checked for each: the model comes back in eval mode with finite
weights, finite BatchNorm statistics and finite outputs; and the class-forgetting methods forget
class 3 and keep the rest (acc_forget and acc_test_forgotten at most FORGOTTEN, retained accuracy
within KEPT of the original's), which a no-op and a destroyed model fail.

At the tests' settings, picked for the MLP, thirteen methods fall short here (SHORTFALLS, measured
with torch 2.14.1 on the CPU, seed 0; the original: acc_forget 0.98, acc_test_retained 0.97):
SSD and influence unlearning destroy the network; USI(F)R and DNF lose 17 and 35 points of
retained accuracy, NegGrad and Boundary Shrink 5 and 10; SCRUB, SalUn and Boundary Expanding
still recognise 72, 46 and 31 % of class 3's training images, output zeroing 49 %, SCRUB+R
50 %; ERM-KTP keeps 63 % of class 3 and loses 18 points of retained accuracy. They are
pinned as measured, so that a fix or a regression shows.
"""

from __future__ import annotations

import copy

import pytest
import torch
from helpers.forgetting import forgetting_failures
from helpers.settings import METHOD_OVERRIDES, TRAIN_RECIPE
from torch import nn

from lethe.methodkit.class_masks import MASK_KEY, train_erm
from lethe.methodkit.sharding import train_sisa
from lethe.methods.catalog import METHODS, merge_params, original_params
from lethe.metrics.evaluate import evaluate_model
from lethe.models.registry import ARCHITECTURES, Classifier, build_model
from lethe.train import fit
from lethe.unlearning import run_unlearning

# Slow (every method on a BatchNorm network: 67 s on 2 busy cores): make test-fast leaves it out.
pytestmark = pytest.mark.slow


ARCH = "bnnet"
FORGOTTEN = 0.35  # at most this accuracy on class 3 (train and test)
KEPT = 0.05  # at most this drop in retained accuracy (train and test)
# Measured on this network at the tests' settings, which were picked for the MLP: the methods below
# do not pass the forgetting check here. (acc_forget, acc_test_retained), pinned within TOLERANCE so
# that a change shows; what they need on BatchNorm networks is the tuning stage's to find.
SHORTFALLS = {
    "finetune": (None, None),  # two epochs of fine-tuning do not forget a class (on the MLP neither)
    "neggrad": (0.033, 0.916),  # forgets, loses 5.4 points of retained accuracy
    "zero_output": (0.488, 0.970),  # a zeroed head row gives logit 0, which still wins for half of class 3
    "usifr": (0.106, 0.804),  # impair at the paper's rates damages the network; repair does not undo it
    "dnf": (0.146, 0.621),
    "scrub": (0.724, 0.970),  # 5 max-steps barely move it
    "salun": (0.463, 0.970),
    "ssd": (0.0, 0.168),  # dampening at alpha 10 destroys the network (BatchNorm weights among the dampened)
    "influence": (0.0, 0.111),  # the Newton step at alpha 20 destroys it
    "boundary_shrink": (0.0, 0.874),
    "boundary_expand": (0.309, 0.891),
    "scrub_r": (0.496, 0.968),  # rewinds to epoch 4 of SCRUB's 5 (forget errors 0.02-0.63, reference 0.50)
    # its own ERM original of bnnet: 32 pooled channels, whose masks at the default run's settings cut a class
    # only in part and take retained features with it
    "erm_ktp": (0.626, 0.790),
}
TOLERANCE = 0.06


def build_bnnet(shape: tuple, num_classes: int) -> Classifier:
    c = shape[0]
    body = nn.Sequential(
        nn.Conv2d(c, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return Classifier(body, 32, num_classes)


@pytest.fixture(scope="module")
def bnnet():
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ARCHITECTURES, ARCH, build_bnnet)
        yield ARCH


@pytest.fixture(scope="module")
def original_bn(bnnet, digits):
    model = build_model(bnnet, tuple(digits.manifest["shape"]), digits.num_classes, seed=0)
    fit(model, digits.train, seed=0, **TRAIN_RECIPE)
    return model.eval()


@pytest.fixture(scope="module")
def original_bn_metrics(original_bn, digits, forget_class3):
    return evaluate_model(original_bn, digits, forget_class3)["metrics"]


@pytest.fixture(scope="module")
def unlearned_bn(bnnet, original_bn, digits, forget_class3, cpu):
    """Every method on class 3 from the BatchNorm network (SISA and ERM-KTP from their own originals of it)."""
    shape = tuple(digits.manifest["shape"])
    results = {}
    for method in METHODS:
        params = merge_params(method, METHOD_OVERRIDES.get(method), TRAIN_RECIPE)
        start = original_bn
        if METHODS[method].original == "sisa_original":
            start = train_sisa(digits.train, bnnet, shape, digits.num_classes, params, seed=0)[0]
        if METHODS[method].original == "erm_original":
            start = build_model(bnnet, shape, digits.num_classes, seed=0)
            mask, _, _ = train_erm(start, digits.train, TRAIN_RECIPE, original_params(method, params), seed=0)
            start.stages = {MASK_KEY: mask}
        model, record = run_unlearning(method, start, digits, forget_class3, params, arch=bnnet, seed=0, device=cpu)
        results[method] = (model, record, evaluate_model(model, digits, forget_class3)["metrics"])
    return results


def failures(metrics: dict, original: dict) -> list[str]:
    return forgetting_failures(metrics, original, FORGOTTEN, KEPT)


def test_the_original_has_batchnorm_and_remembers_class3(original_bn, original_bn_metrics):
    assert sum(isinstance(m, nn.BatchNorm2d) for m in original_bn.modules()) == 2
    assert original_bn_metrics["acc_forget"] >= 0.95 and original_bn_metrics["acc_test_retained"] >= 0.9


def test_the_checks_fail_a_no_op_and_a_destroyed_model(original_bn, original_bn_metrics, digits, forget_class3):
    assert failures(original_bn_metrics, original_bn_metrics)  # forgets nothing
    destroyed = copy.deepcopy(original_bn)
    for module in destroyed.modules():
        if isinstance(module, nn.BatchNorm2d):  # statistics a forward pass in training mode on noise could leave
            module.running_mean.fill_(50.0)
    metrics = evaluate_model(destroyed, digits, forget_class3)["metrics"]
    assert failures(metrics, original_bn_metrics)


@pytest.mark.parametrize("method", list(METHODS))
def test_method_returns_a_sound_batchnorm_model(method, unlearned_bn, digits):
    model, _, _ = unlearned_bn[method]
    assert not model.training, f"{method} returned a model in training mode"
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        assert torch.isfinite(tensor.float()).all(), f"{method}: {name} is not finite"
    with torch.no_grad():
        assert torch.isfinite(model(digits.test.x)).all()


@pytest.mark.parametrize("method", [m for m in METHODS if m not in SHORTFALLS])
def test_method_forgets_class3_on_a_batchnorm_network(method, unlearned_bn, original_bn_metrics):
    _, _, metrics = unlearned_bn[method]
    assert failures(metrics, original_bn_metrics) == [], {
        k: round(metrics[k], 3) for k in ("acc_forget", "acc_test_forgotten", "acc_test_retained", "acc_retain")
    }


@pytest.mark.parametrize("method", [m for m, values in SHORTFALLS.items() if values[0] is not None])
def test_known_shortfalls_on_a_batchnorm_network_stay_as_measured(method, unlearned_bn, original_bn_metrics):
    """The methods that fail the check here, pinned to what was measured (a change, better or worse, shows)."""
    _, _, metrics = unlearned_bn[method]
    assert failures(metrics, original_bn_metrics)
    acc_forget, acc_retained = SHORTFALLS[method]
    assert metrics["acc_forget"] == pytest.approx(acc_forget, abs=TOLERANCE)
    assert metrics["acc_test_retained"] == pytest.approx(acc_retained, abs=TOLERANCE)
