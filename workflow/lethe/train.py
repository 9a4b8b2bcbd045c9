"""The one training loop: original models, retraining, fine-tuning, gradient ascent.

Batches are drawn by index from in-memory tensors. Runs are seeded: the same seed,
device and thread count give identical weights on CPU.

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
) -> torch.optim.Optimizer:
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")


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


def recipe_args(recipe: dict) -> dict:
    """The keyword arguments of :func:`fit` that ``recipe`` sets (:data:`RECIPE_KEYS`)."""
    return {key: recipe[key] for key in RECIPE_KEYS}


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
) -> FitResult:
    """Minimise ``loss_fn`` over ``data`` for ``epochs`` epochs of shuffled mini-batches.

    ``max_steps`` caps the number of optimiser steps; ``stop(model)`` is checked after
    every epoch (``stop_each="epoch"``) or every step (``"step"``) and ends training
    when it returns True. ``monitor`` adds its accuracy
    to the per-epoch progress line. ``amp`` is the config's mixed-precision setting
    (:func:`lethe.device.amp_dtype`) on the model's device. ``lr_at(epoch)`` (1-based)
    sets the learning rate of each epoch (a schedule; None: ``lr`` throughout);
    ``max_grad_norm`` clips the gradients' global norm before each step. Only parameters
    that require gradients are optimised.
    """
    if len(data) == 0:
        raise ValueError(f"{name}: no training samples")
    if stop_each not in ("epoch", "step"):
        raise ValueError(f"stop_each must be 'epoch' or 'step', got {stop_each!r}")
    generator = torch.Generator().manual_seed(seed)
    stopped = False
    device = next((p.device for p in model.parameters()), data.x.device)
    dtype = amp_dtype(amp, device)
    scaler = grad_scaler(device, dtype)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(trainable, optimizer, lr, momentum, weight_decay)
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
            with autocast(device, dtype):
                loss = loss_fn(model, data.x[index], data.y[index])
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
