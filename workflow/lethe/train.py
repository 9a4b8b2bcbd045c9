"""The one training loop: original models, retraining, fine-tuning, gradient ascent.

Batches are drawn by index from in-memory tensors. Runs are seeded: the same seed,
device and thread count give identical weights on CPU.
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

log = logging.getLogger(__name__)

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
OPTIMIZERS = ("adam", "sgd")


@dataclass
class FitResult:
    steps: int = 0
    samples: int = 0
    epochs: int = 0
    stopped_early: bool = False
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
) -> FitResult:
    """Minimise ``loss_fn`` over ``data`` for ``epochs`` epochs of shuffled mini-batches.

    ``max_steps`` caps the number of optimiser steps; ``stop(model)`` is checked after
    every epoch (``stop_each="epoch"``) or every step (``"step"``) and ends training
    when it returns True. ``monitor`` adds its accuracy
    to the per-epoch progress line.
    """
    if len(data) == 0:
        raise ValueError(f"{name}: no training samples")
    if stop_each not in ("epoch", "step"):
        raise ValueError(f"stop_each must be 'epoch' or 'step', got {stop_each!r}")
    generator = torch.Generator().manual_seed(seed)
    stopped = False
    opt = make_optimizer(model.parameters(), optimizer, lr, momentum, weight_decay)
    result = FitResult()
    model.train()
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        total, count = 0.0, 0
        for index in index_batches(len(data), batch_size, generator):
            index = index.to(data.y.device)
            loss = loss_fn(model, data.x[index], data.y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
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
