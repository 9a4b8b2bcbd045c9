"""Passes of optimiser steps that share one optimiser across data sources (SCRUB, SalUn).

:func:`lethe.train.fit` builds its own optimiser and walks one split; SCRUB alternates
passes over D_f and D_r, and SalUn's relabelling runs a D_f pass then a D_r pass in every
epoch, both with one optimiser (its momentum or Adam moments) for the whole run. This
module is fit's inner loop with the optimiser passed in, a hook between the backward
pass and the step (SalUn's gradient mask) and one after the step (SalUn's reset of the
frozen weights). Batches are drawn by index from in-memory tensors, shuffled by a seeded
generator, exactly as in fit. :func:`epoch_lr` is the step schedule SCRUB's code and
ERM-KTP's transfer use (decay once per milestone passed).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lethe.data.tensors import index_batches
from lethe.train import FitResult, fit, recipe_args


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def epoch_lr(lr: float, epoch: int, decay_epochs: list[int], rate: float) -> float:
    """Learning rate of 1-based ``epoch``: decayed once for every milestone strictly below it."""
    return lr * rate ** sum(epoch > m for m in decay_epochs)


def optimiser_pass(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    n: int,
    batch_size: int,
    generator: torch.Generator,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    result: FitResult,
    *,
    before_step: Callable[[], None] | None = None,
    after_step: Callable[[], None] | None = None,
) -> float:
    """One shuffled pass of optimiser steps over ``range(n)``; returns the mean loss.

    ``batch_loss(index)`` gets a CPU index tensor and returns the batch loss. Steps and
    samples are added to ``result`` (so that :meth:`Context.count` can record them).
    """
    if n == 0:
        raise ValueError("optimiser_pass: no samples to step over")
    model.train()
    total = 0.0
    for index in index_batches(n, batch_size, generator):
        loss = batch_loss(index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if before_step is not None:
            before_step()
        optimizer.step()
        if after_step is not None:
            after_step()
        result.steps += 1
        result.samples += len(index)
        total += loss.item() * len(index)
    return total / n


def train_with(model: nn.Module, split, params: dict, ctx, name: str, **options) -> FitResult:
    """:func:`lethe.train.fit` of ``model`` on ``split`` with the recipe in ``params``
    (:func:`lethe.train.recipe_args`), the run's seed and precision, and ``options`` (a loss,
    a stop, a schedule; ``seed`` or a recipe key to override); its steps counted in ``ctx``."""
    args = {**recipe_args(params), "seed": ctx.seed, "name": name, "amp": ctx.amp, **options}
    result = fit(model, split, **args)
    ctx.count(result)
    return result
