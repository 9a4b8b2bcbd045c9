"""The one training loop: original models, retraining, fine-tuning, gradient ascent.

Batches are drawn by index from in-memory tensors. Runs are seeded: the same seed,
device and thread count give identical weights on CPU.

A recipe may also carry a learning-rate schedule (``schedule``: torch.optim.lr_scheduler's
schedulers, stepped after every optimiser step, with an optional linear warm-up), Nesterov
momentum, label smoothing, gradient clipping (``grad_clip``) and data augmentation
(``augment``, :mod:`lethe.data.augment`). Each is off when its key is absent, and then the
loop is the one it was before these keys existed, bit for bit.

Mixed precision (``amp``, :mod:`lethe.device`): the forward pass and the loss run under
autocast; the backward pass and the optimiser step stay float32 (parameters are never
cast), with a gradient scaler for float16. ``amp=False`` (the default) runs exactly the
float32 loop, bit for bit. Progress checks (``stop``, ``monitor``) run in float32.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from lethe.data.tensors import Split, index_batches
from lethe.device import amp_dtype, autocast, grad_scaler

log = logging.getLogger(__name__)

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
OPTIMIZERS = ("adam", "sgd")


@dataclass
class FitResult:
    steps: int = 0
    samples: int = 0
    epochs: int = 0
    stopped_early: bool = False
    skipped_steps: int = 0  # float16 AMP: steps the gradient scaler skipped (non-finite gradients); counted in steps
    history: list[dict] = field(default_factory=list)


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y)


def make_optimizer(
    params: Iterable[torch.nn.Parameter],
    optimizer: str = "adam",
    lr: float = 1e-3,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> torch.optim.Optimizer:
    if optimizer == "adam":
        if nesterov:
            raise ValueError("nesterov: Nesterov momentum is an SGD option; the optimizer is adam")
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        if nesterov:
            return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=True)
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")


# Learning-rate schedules (a recipe's ``schedule``: ``kind`` and its options), stepped after every
# optimiser step; epochs in the options are converted to steps with the run's steps per epoch.
SCHEDULES = {
    "constant": "the recipe's lr throughout (with warm-up: after it)",
    "step": "multiply by `gamma` (0.1) every `step_epochs` epochs",
    "multistep": "multiply by `gamma` (0.1) at each epoch of `milestones`",
    "cosine": "cosine annealing from lr to `min_lr` (0) over the run (after any warm-up)",
    "onecycle": "one cycle up to lr and down (torch's OneCycleLR; `pct_start` 0.3), no separate warm-up",
}
WARMUP_START = 0.01  # a linear warm-up starts at this fraction of lr


def make_schedule(
    optimizer: torch.optim.Optimizer, spec: dict, steps_per_epoch: int, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The scheduler of ``spec`` (a recipe's ``schedule``) on ``optimizer``, stepped once per optimiser step.

    ``warmup_epochs`` (default 0) prepends torch's LinearLR from ``WARMUP_START`` of lr to lr, joined
    with SequentialLR; the main schedule's epochs count from the end of the warm-up."""
    from torch.optim import lr_scheduler as ls

    kind = spec.get("kind", "constant")
    if kind not in SCHEDULES:
        raise ValueError(f"schedule.kind: unknown {kind!r}; known: {', '.join(SCHEDULES)}")
    total = max(1, steps_per_epoch * epochs)
    warmup = int(round(float(spec.get("warmup_epochs", 0)) * steps_per_epoch))
    if kind == "onecycle":
        if warmup:
            raise ValueError("schedule: onecycle warms up by itself; drop warmup_epochs")
        lr = optimizer.param_groups[0]["lr"]
        return ls.OneCycleLR(optimizer, max_lr=lr, total_steps=total, pct_start=float(spec.get("pct_start", 0.3)))
    gamma = float(spec.get("gamma", 0.1))
    if kind == "constant":
        main = ls.LambdaLR(optimizer, lambda step: 1.0)
    elif kind == "step":
        main = ls.StepLR(optimizer, step_size=max(1, int(spec["step_epochs"] * steps_per_epoch)), gamma=gamma)
    elif kind == "multistep":
        milestones = [int(m * steps_per_epoch) - warmup for m in spec["milestones"]]
        main = ls.MultiStepLR(optimizer, milestones=[m for m in milestones if m > 0], gamma=gamma)
    else:
        main = ls.CosineAnnealingLR(optimizer, T_max=max(1, total - warmup), eta_min=float(spec.get("min_lr", 0.0)))
    if not warmup:
        return main
    start = ls.LinearLR(optimizer, start_factor=WARMUP_START, end_factor=1.0, total_iters=warmup)
    return ls.SequentialLR(optimizer, [start, main], milestones=[warmup])


@torch.no_grad()
def accuracy(model: nn.Module, split: Split, batch_size: int = 1024) -> float:
    """Top-1 accuracy of ``model`` on ``split`` (eval mode, batched)."""
    if len(split) == 0:
        return float("nan")
    was_training = model.training
    model.eval()
    correct = 0
    for index in index_batches(len(split), batch_size, shuffle=False):
        correct += (model(split.x[index]).argmax(1) == split.y[index]).sum().item()
    model.train(was_training)
    return correct / len(split)


# The keys of a training recipe that fit() takes as they are: the config's `train` block and
# every method that trains with the shared loop (finetune, retrain, NegGrad, ...) carry them.
RECIPE_KEYS = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay")
# The optional keys of a recipe, off when absent: recipe key -> fit()'s keyword.
EXTENDED_KEYS = {
    "schedule": "schedule",
    "nesterov": "nesterov",
    "label_smoothing": "label_smoothing",
    "grad_clip": "max_grad_norm",
    "augment": "augment",
}


def recipe_args(recipe: dict) -> dict:
    """The keyword arguments of :func:`fit` that ``recipe`` sets (:data:`RECIPE_KEYS`, and those of
    :data:`EXTENDED_KEYS` it carries)."""
    return {**{key: recipe[key] for key in RECIPE_KEYS}, **extended_args(recipe)}


def extended(recipe: dict) -> list[str]:
    """The optional keys (:data:`EXTENDED_KEYS`) ``recipe`` turns on."""
    return [key for key in EXTENDED_KEYS if recipe.get(key) not in (None, [], {}, False, 0, 0.0)]


def extended_args(recipe: dict) -> dict:
    """The keyword arguments of :func:`fit` for the optional keys ``recipe`` turns on (none: the plain loop)."""
    return {EXTENDED_KEYS[key]: recipe[key] for key in extended(recipe)}


def fit(
    model: nn.Module,
    data: Split,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    loss_fn: LossFn = cross_entropy,
    max_steps: int | None = None,
    stop: Callable[[nn.Module], bool] | None = None,
    stop_each: str = "epoch",
    name: str = "train",
    monitor: Split | None = None,
    amp: bool | str = False,
    lr_at: Callable[[int], float] | None = None,
    max_grad_norm: float | None = None,
    schedule: dict | None = None,
    nesterov: bool = False,
    label_smoothing: float = 0.0,
    augment: list | None = None,
    augment_fill: list[float] | None = None,
) -> FitResult:
    """Minimise ``loss_fn`` over ``data`` for ``epochs`` epochs of shuffled mini-batches.

    ``max_steps`` caps the number of optimiser steps; ``stop(model)`` is checked after
    every epoch (``stop_each="epoch"``) or every step (``"step"``) and ends training
    when it returns True. ``monitor`` adds its accuracy
    to the per-epoch progress line. ``amp`` is the config's mixed-precision setting
    (:func:`lethe.device.amp_dtype`) on the model's device. ``lr_at(epoch)`` (1-based)
    sets the learning rate of each epoch (a schedule; None: ``lr`` throughout);
    ``max_grad_norm`` clips the gradients' global norm before each step. ``schedule`` (a
    recipe's, :func:`make_schedule`) sets it after every step instead; ``nesterov`` (SGD),
    ``label_smoothing`` (the default cross-entropy only) and ``augment`` (steps of
    :mod:`lethe.data.augment`, padding crops with ``augment_fill`` per channel) are off by
    default. Only parameters that require gradients are optimised.
    """
    if len(data) == 0:
        raise ValueError(f"{name}: no training samples")
    if stop_each not in ("epoch", "step"):
        raise ValueError(f"stop_each must be 'epoch' or 'step', got {stop_each!r}")
    if schedule is not None and lr_at is not None:
        raise ValueError(f"{name}: a recipe's schedule and a method's own per-epoch lr (lr_at) exclude each other")
    if label_smoothing:
        if loss_fn is not cross_entropy:
            raise ValueError(f"{name}: label_smoothing applies to the plain cross-entropy, not to this method's loss")
        smoothing = float(label_smoothing)

        def loss_fn(model, x, y):
            return F.cross_entropy(model(x), y, label_smoothing=smoothing)

    augmenter = None
    if augment:
        from lethe.data.augment import Augmenter

        # Crops pad with the normalised raw 0: given (from the manifest's mean and std), or the darkest value
        # each channel takes in the training data (the same whenever the data hold a black pixel).
        fill = augment_fill if augment_fill is not None else data.x.amin(dim=(0, 2, 3)).tolist()
        augmenter = Augmenter(augment, seed, fill)
    generator = torch.Generator().manual_seed(seed)
    stopped = False
    device = next((p.device for p in model.parameters()), data.x.device)
    dtype = amp_dtype(amp, device)
    scaler = grad_scaler(device, dtype)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(trainable, optimizer, lr, momentum, weight_decay, nesterov)
    scheduler = None
    if schedule is not None:
        steps_per_epoch = -(-len(data) // batch_size)
        scheduler = make_schedule(opt, schedule, steps_per_epoch, epochs)
    result = FitResult()
    model.train()
    for epoch in range(1, epochs + 1):
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(epoch)
        started = time.perf_counter()
        total, count = 0.0, 0
        for index in index_batches(len(data), batch_size, generator):
            index = index.to(data.y.device)
            x = data.x[index] if augmenter is None else augmenter(data.x[index])
            with autocast(device, dtype):
                loss = loss_fn(model, x, data.y[index])
            opt.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
                opt.step()
            else:
                scale = scaler.get_scale()
                scaler.scale(loss).backward()
                if max_grad_norm is not None:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
                scaler.step(opt)  # unscales; skips the step when a gradient is inf or NaN
                scaler.update()  # lowers the scale after a skip, raises it after a run of good steps
                result.skipped_steps += int(scaler.get_scale() < scale)
            if scheduler is not None:
                scheduler.step()
            result.steps += 1
            result.samples += len(index)
            total += loss.item() * len(index)
            count += len(index)
            if max_steps is not None and result.steps >= max_steps:
                break
            if stop is not None and stop_each == "step" and stop(model):
                stopped = True
                model.train()
                break
        result.epochs = epoch
        entry = {"epoch": epoch, "loss": total / max(count, 1), "seconds": time.perf_counter() - started}
        if monitor is not None:
            entry["monitor_acc"] = accuracy(model, monitor)
            model.train()
        result.history.append(entry)
        extra = f" monitor acc {entry['monitor_acc']:.4f}" if monitor is not None else ""
        if scaler is not None:
            extra += f" ({result.skipped_steps} float16 steps skipped so far)"
        log.info(
            "%s epoch %d/%d loss %.4f (%d steps, %.2fs)%s",
            name,
            epoch,
            epochs,
            entry["loss"],
            result.steps,
            entry["seconds"],
            extra,
        )
        if max_steps is not None and result.steps >= max_steps:
            break
        if stopped or (stop is not None and stop_each == "epoch" and stop(model)):
            log.info("%s: stop criterion met in epoch %d after %d steps", name, epoch, result.steps)
            result.stopped_early = True
            break
    model.eval()
    return result
