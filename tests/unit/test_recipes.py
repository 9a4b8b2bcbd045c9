"""Training recipes: schedules step by step, Nesterov, label smoothing, clipping and augmentation in fit()."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lethe.data.tensors import Split
from lethe.train import EXTENDED_KEYS, extended, fit, make_optimizer, make_schedule, recipe_args


def lrs(spec: dict, steps_per_epoch: int = 4, epochs: int = 10, lr: float = 0.1) -> list[float]:
    opt = make_optimizer([nn.Parameter(torch.zeros(1))], "sgd", lr)
    schedule = make_schedule(opt, spec, steps_per_epoch, epochs)
    out = []
    for _ in range(steps_per_epoch * epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    return out


def test_multistep_decays_at_the_milestones():
    values = lrs({"kind": "multistep", "milestones": [5, 8], "gamma": 0.1})
    assert values[0] == values[19] == pytest.approx(0.1)
    assert values[20] == values[31] == pytest.approx(0.01)
    assert values[32] == pytest.approx(0.001)


def test_step_schedule():
    values = lrs({"kind": "step", "step_epochs": 3, "gamma": 0.5})
    assert values[11] == pytest.approx(0.1) and values[12] == pytest.approx(0.05) and values[24] == pytest.approx(0.025)


def test_cosine_with_warmup_is_linear_then_cosine():
    values = lrs({"kind": "cosine", "warmup_epochs": 2, "min_lr": 0.0})
    assert values[0] == pytest.approx(0.001)  # 1 % of lr
    assert values[4] == pytest.approx(0.001 + (0.1 - 0.001) * 4 / 8)  # linear over 8 steps
    assert values[8] == pytest.approx(0.1)
    # Cosine over the remaining 32 steps: half way it is half of lr.
    assert values[8 + 16] == pytest.approx(0.05)
    assert values[-1] == pytest.approx(0.1 * (1 + math.cos(math.pi * 31 / 32)) / 2)


def test_onecycle_is_torchs():
    ours = lrs({"kind": "onecycle"})
    opt = make_optimizer([nn.Parameter(torch.zeros(1))], "sgd", 0.1)
    theirs = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=40)
    expected = []
    for _ in range(40):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        theirs.step()
    assert ours == expected


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="schedule.kind"):
        lrs({"kind": "exponential"})
    with pytest.raises(ValueError, match="onecycle warms up"):
        lrs({"kind": "onecycle", "warmup_epochs": 1})
    with pytest.raises(ValueError, match="Nesterov"):
        make_optimizer([nn.Parameter(torch.zeros(1))], "adam", 0.1, nesterov=True)


def data(n=64) -> Split:
    g = torch.Generator().manual_seed(0)
    return Split(torch.randn(n, 1, 6, 6, generator=g), torch.randint(0, 3, (n,), generator=g))


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 3))


def weights(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


BASE = {"epochs": 2, "batch_size": 16, "lr": 0.05, "optimizer": "sgd", "momentum": 0.9, "weight_decay": 0.0}


def trained(**extra) -> list[torch.Tensor]:
    m = model()
    fit(m, data(), **recipe_args({**BASE, **extra}), seed=1)
    return weights(m)


def test_absent_keys_train_exactly_as_the_plain_recipe():
    plain = trained()
    off = trained(schedule=None, augment=[], label_smoothing=0.0, grad_clip=None, nesterov=False)
    assert all(torch.equal(a, b) for a, b in zip(plain, off, strict=True))
    assert extended(BASE) == [] and set(recipe_args(BASE)) == set(BASE)


@pytest.mark.parametrize(
    "extra",
    [
        {"schedule": {"kind": "cosine"}},
        {"nesterov": True},
        {"label_smoothing": 0.1},
        {"grad_clip": 0.01},
        {"augment": [{"crop": 1}, {"flip": 0.5}]},
    ],
)
def test_each_key_changes_training_and_is_reproducible(extra):
    assert extended({**BASE, **extra}) == list(extra)
    assert set(EXTENDED_KEYS) >= set(extra)
    changed = trained(**extra)
    assert not all(torch.equal(a, b) for a, b in zip(trained(), changed, strict=True)), extra
    assert all(torch.equal(a, b) for a, b in zip(changed, trained(**extra), strict=True))  # seeded


def test_label_smoothing_needs_the_plain_loss():
    with pytest.raises(ValueError, match="label_smoothing"):
        fit(model(), data(), **recipe_args(BASE), label_smoothing=0.1, loss_fn=lambda m, x, y: m(x).sum())
