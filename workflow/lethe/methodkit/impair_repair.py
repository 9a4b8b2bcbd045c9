"""Impair–repair machinery shared by UNSIR, USI(F)R and DNF.

All three methods forget classes without looking at a single forget image:

1. **noise**: a batch of inputs labelled with the forget classes, either learned to
   maximise the frozen original model's error on those labels (UNSIR, USI(F)R) or just
   drawn from N(0, 1) (DNF). Noise lives in the model's input space, i.e. the
   dataset's *normalised* images of shape ``data.shape`` (C, H, W);
2. **impair**: train on (noise copies ∪ a retain subset D_r^sub) with cross-entropy at a
   high learning rate, which wrecks the forget classes (and some of the rest);
3. **repair**: train on D_r^sub alone at a lower learning rate, which restores the rest.

Impair and repair run through the one training loop, :func:`lethe.train.fit`, on a
:class:`~lethe.data.tensors.Split` that concatenates the noise copies and D_r^sub
(the noise is detached, as in both reference codes). The noise optimisation is its own
small loop: Adam on the noise tensor only, the model in ``eval()`` mode (so BatchNorm
running statistics are not touched, unlike the UNSIR notebook, which updates them)
and its parameters frozen for the duration.

Cost accounting: every optimiser step (noise, impair, repair) counts in ``ctx.steps``
and every sample of a forward pass with gradients in ``ctx.samples``; the phases are
itemised in ``ctx.notes`` (``noise_steps``, ``noise_seconds``, ``impair_steps``,
``repair_steps``, the set sizes).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lethe.data.tensors import Split
from lethe.device import synchronize
from lethe.methodkit.base import Context, UnlearningData
from lethe.models.registry import Classifier
from lethe.seeds import derived_seed
from lethe.train import fit

# Offsets that give each random choice of a run its own stream from one ctx.seed.
_NOISE_STREAM = 1
_SUBSET_STREAM = 2


@dataclass
class NoiseResult:
    """A noise set, its labels and what producing it cost."""

    x: torch.Tensor  # (n, C, H, W), detached
    y: torch.Tensor  # (n,) forget-class labels
    steps: int = 0  # optimiser steps on the noise
    samples: int = 0  # noise samples through a forward pass with gradients
    seconds: float = 0.0


# --------------------------------------------------------------------------- inputs


def require_classes(data: UnlearningData, method: str) -> tuple[int, ...]:
    if not data.forget_classes:
        raise ValueError(f"{method} applies to class forgetting only (got random-sample forgetting)")
    return tuple(int(c) for c in data.forget_classes)


def require_retain(data: UnlearningData, method: str) -> Split:
    if data.retain is None or len(data.retain) == 0:
        raise ValueError(f"{method} needs retain data for the impair and repair steps")
    return data.retain


def retain_per_class(retain: Split, per_class: int | None, seed: int) -> Split:
    """Up to ``per_class`` random samples of every class present in ``retain`` (all if None).

    The UNSIR notebook takes the *first* 1000 images of each retained class of an
    ImageFolder; a seeded random choice is the same thing for a shuffled dataset and
    does not depend on file order.
    """
    if per_class is None:
        return retain
    rng = np.random.default_rng([seed, _SUBSET_STREAM])
    y = retain.y.cpu().numpy()
    keep = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) > per_class:
            members = rng.choice(members, size=per_class, replace=False)
        keep.append(members)
    return retain.subset(np.sort(np.concatenate(keep)))


def retain_random(retain: Split, size: int | None, seed: int) -> Split:
    """``size`` random samples of ``retain`` in total (all if None or if it has fewer)."""
    if size is None or size >= len(retain):
        return retain
    rng = np.random.default_rng([seed, _SUBSET_STREAM])
    return retain.subset(np.sort(rng.choice(len(retain), size=int(size), replace=False)))


def mixed_labels(classes: Sequence[int], n: int, device: torch.device) -> torch.Tensor:
    """``n`` labels cycling through ``classes`` (sizes differ by at most one)."""
    if n < len(classes):
        raise ValueError(f"a noise batch of {n} cannot carry all {len(classes)} forget classes; raise noise_batch")
    table = torch.tensor(list(classes), dtype=torch.long, device=device)
    return table[torch.arange(n, device=device) % len(classes)]


def noise_size(params: dict, k: int) -> int:
    """Samples in a mixed noise batch for ``k`` forget classes (USI(F)R, DNF).

    ``noise_batch`` in all, or ``noise_batch`` per class when ``noise_per_class`` is set.
    """
    n = int(params["noise_batch"])
    return n * k if params["noise_per_class"] else n


def draw_noise(n: int, shape: Sequence[int], seed: int, device: torch.device, index: int = 0) -> torch.Tensor:
    """N(0, 1) noise of ``n`` images of ``shape``; stream ``index`` of ``seed``, drawn on the CPU.

    Drawing on the CPU makes the initial noise the same on every device; ``index``
    separates the noise batches of one run (UNSIR's one per class).
    """
    state = derived_seed(seed, _NOISE_STREAM, index)
    generator = torch.Generator().manual_seed(int(state))
    return torch.randn((n, *shape), generator=generator).to(device)


# --------------------------------------------------------------------------- noise


def error_maximising_noise(
    model: Classifier,
    labels: torch.Tensor,
    shape: Sequence[int],
    *,
    steps: int,
    lr: float,
    l2: float,
    seed: int,
    device: torch.device,
    index: int = 0,
) -> NoiseResult:
    """Learn noise N (one image per label) that the frozen ``model`` misclassifies.

    Minimises ``−CE(f(N), labels) + l2 · mean_i ||N_i||²`` with Adam on N alone for
    ``steps`` full-batch steps, from N(0, 1) (Tarun et al. 2023; the UNSIR notebook's
    loss). The model is put in eval mode and its parameters frozen meanwhile; both are
    restored afterwards.
    """
    synchronize(device)
    started = time.perf_counter()
    noise = draw_noise(len(labels), shape, seed, device, index).requires_grad_(True)
    was_training = model.training
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in frozen:
        p.requires_grad_(False)
    try:
        opt = torch.optim.Adam([noise], lr=lr)
        for _ in range(steps):
            loss = -F.cross_entropy(model(noise), labels) + l2 * noise.square().flatten(1).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for p, flag in frozen:
            p.requires_grad_(flag)
        model.train(was_training)
    synchronize(device)
    return NoiseResult(
        x=noise.detach(),
        y=labels,
        steps=steps,
        samples=steps * len(labels),
        seconds=time.perf_counter() - started,
    )


def drawn_noise(labels: torch.Tensor, shape: Sequence[int], seed: int, device: torch.device) -> NoiseResult:
    """Untrained N(0, 1) noise labelled with ``labels`` (DNF): no optimisation, no steps."""
    synchronize(device)
    started = time.perf_counter()
    x = draw_noise(len(labels), shape, seed, device)
    synchronize(device)
    return NoiseResult(x=x, y=labels, seconds=time.perf_counter() - started)


def concat_noise(results: Sequence[NoiseResult]) -> NoiseResult:
    """One noise set from several (UNSIR: one per class); costs add up."""
    return NoiseResult(
        x=torch.cat([r.x for r in results]),
        y=torch.cat([r.y for r in results]),
        steps=sum(r.steps for r in results),
        samples=sum(r.samples for r in results),
        seconds=sum(r.seconds for r in results),
    )


# --------------------------------------------------------------------------- impair and repair


def start(
    model: Classifier, data: UnlearningData, params: dict, ctx: Context, method: str, per_class: bool = False
) -> tuple[tuple[int, ...], Split]:
    """The family's first steps: the forget classes and D_r^sub on the run's device (``per_class``:
    ``retain_per_class`` samples of every retained class, UNSIR's; otherwise ``retain_samples`` at
    random), with the model moved there."""
    classes = require_classes(data, method)
    retain = require_retain(data, method)
    if per_class:
        retain_sub = retain_per_class(retain, params["retain_per_class"], ctx.seed)
    else:
        retain_sub = retain_random(retain, params["retain_samples"], ctx.seed)
    model.to(ctx.device)
    return classes, retain_sub.to(ctx.device)


def learned_noise(
    model: Classifier, labels: torch.Tensor, shape: Sequence[int], params: dict, ctx: Context, index: int = 0
) -> NoiseResult:
    """:func:`error_maximising_noise` for ``labels`` with the run's noise parameters, seed and device."""
    steps, lr, l2 = int(params["noise_steps"]), params["noise_lr"], params["noise_l2"]
    return error_maximising_noise(
        model, labels, shape, steps=steps, lr=lr, l2=l2, seed=ctx.seed, device=ctx.device, index=index
    )


def impair_set(noise: NoiseResult, copies: int, retain_sub: Split) -> Split:
    """D_i = (``copies`` copies of the noise) ∪ D_r^sub, on the retain data's device."""
    if copies < 1:
        raise ValueError(f"noise_copies must be at least 1, got {copies}")
    device = retain_sub.y.device
    x = torch.cat([noise.x.to(device).repeat(copies, *([1] * (noise.x.dim() - 1))), retain_sub.x])
    y = torch.cat([noise.y.to(device).repeat(copies), retain_sub.y])
    return Split(x, y)


def impair_repair(
    model: Classifier,
    noise: NoiseResult,
    retain_sub: Split,
    params: dict,
    ctx: Context,
    name: str,
) -> Classifier:
    """Impair on noise ∪ D_r^sub, then repair on D_r^sub; count the cost in ``ctx``.

    ``params``: ``noise_copies``, ``batch_size``, ``optimizer``, ``impair_lr``,
    ``impair_epochs``, ``repair_lr``, ``repair_epochs``. No weight decay, no gradient
    clipping (as in the UNSIR notebook's impair and repair loops).
    """
    ctx.steps += noise.steps
    ctx.samples += noise.samples
    impair_data = impair_set(noise, int(params["noise_copies"]), retain_sub)
    common = {
        "batch_size": int(params["batch_size"]),
        "optimizer": params["optimizer"],
        "seed": ctx.seed,
        "amp": ctx.amp,
    }
    impair = fit(
        model, impair_data, epochs=int(params["impair_epochs"]), lr=params["impair_lr"], name=f"{name}-impair", **common
    )
    ctx.count(impair)
    repair = fit(
        model, retain_sub, epochs=int(params["repair_epochs"]), lr=params["repair_lr"], name=f"{name}-repair", **common
    )
    ctx.count(repair)
    ctx.notes.update(
        {
            "noise_samples": len(noise.y),
            "noise_steps": noise.steps,
            "noise_seconds": noise.seconds,
            "impair_samples": len(impair_data),
            "impair_steps": impair.steps,
            "retain_subset": len(retain_sub),
            "repair_steps": repair.steps,
        }
    )
    return model
