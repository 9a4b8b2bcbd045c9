"""The last k layers of a model, and training only them (EU-k and CF-k: :func:`train_last_layers`).

Goel, Prabhu, Sanyal, Lim, Torr and Kumaraguru, "Towards Adversarial Evaluations for
Inexact Machine Unlearning" (arXiv 2201.06640), code ``shash42/Evaluating-Inexact-Unlearning``
(``src/methods.py``). A *layer* is a module with weights of its own that the forward pass
applies in order: convolutions and linear maps are the layers that count towards k, and
the normalisation layers (batch, layer and group norm) between them travel with the
layer they follow (a convolution's batch norm goes with it). The model's modules are
walked in definition order (``model.modules()``, which for every Lethe architecture is
the order of the forward pass: the body, then the linear ``head``), reversed, and
collected up to and including the k-th convolution or linear map, as the code's
``resetFinalResnet``: the head is layer 1, so k = 1 is the output layer alone.

``k`` larger than the model's number of layers selects all of them (the MLP has 2, the
small CNN 5); the run's notes record the effective k.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.passes import train_with
from lethe.models.registry import Classifier
from lethe.seeds import derived_seed

COUNTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
CARRIED = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


def layer_names(model: nn.Module) -> list[str]:
    """Names (``model.named_modules()``) of the counted and carried layers, in forward order."""
    return [name for name, module in model.named_modules() if isinstance(module, COUNTED + CARRIED)]


def counted_layers(model: nn.Module) -> int:
    """How many convolutions and linear maps ``model`` has: the largest meaningful k."""
    return sum(isinstance(module, COUNTED) for module in model.modules())


def last_k_layers(model: nn.Module, k: int) -> list[str]:
    """Names of the last ``k`` layers (with the norm layers after each), in forward order."""
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    modules = dict(model.named_modules())
    chosen, counted = [], 0
    for name in reversed(layer_names(model)):
        chosen.append(name)
        if isinstance(modules[name], COUNTED):
            counted += 1
            if counted == k:
                break  # the walk ends at the k-th weight layer: the norm layers before it are not included
    return chosen[::-1]


@contextmanager
def train_only(model: nn.Module, names: list[str]) -> Iterator[int]:
    """Within the block only the parameters of the modules ``names`` require gradients, and
    every other norm layer stays in eval mode (its running statistics frozen) whenever the
    model is put in train mode. Yields the number of trainable parameters; restores
    ``requires_grad`` and the ``train`` method on exit."""
    modules = dict(model.named_modules())
    chosen = {id(modules[name]) for name in names}
    trainable = {id(p) for name in names for p in modules[name].parameters(recurse=False)}
    flags = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in trainable)
    frozen_norms = [m for m in model.modules() if isinstance(m, CARRIED) and id(m) not in chosen]
    original_train = model.train

    def train(mode: bool = True):
        original_train(mode)
        for norm in frozen_norms:
            norm.eval()
        return model

    model.train = train
    try:
        yield sum(p.numel() for p in model.parameters() if p.requires_grad)
    finally:
        del model.train  # the instance attribute; the class's method shows again
        for p in model.parameters():
            p.requires_grad_(flags[id(p)])


@torch.no_grad()
def reinitialise(model: nn.Module, names: list[str], seed: int) -> list[str]:
    """Reinitialise the convolutions and linear maps among ``names`` as the authors' code does:
    Kaiming-normal weights (fan-in, ReLU gain: PyTorch's ``kaiming_normal_`` defaults) and
    zero biases, drawn on the CPU from ``seed`` and copied to the model's device. Norm
    layers are left as they are (they are trained, not reset). Returns the names reset."""
    generator = torch.Generator().manual_seed(seed)
    modules = dict(model.named_modules())
    reset = []
    for name in names:
        module = modules[name]
        if not isinstance(module, COUNTED):
            continue
        weight = torch.empty(module.weight.shape, dtype=module.weight.dtype)
        nn.init.kaiming_normal_(weight, generator=generator)
        module.weight.copy_(weight.to(module.weight.device))
        if module.bias is not None:
            module.bias.zero_()
        reset.append(name)
    return reset


def warm_restart_lr(epoch: int, lr: float, min_lr: float) -> float:
    """The learning rate of 1-based ``epoch`` under cosine annealing with warm restarts stepped
    once per epoch, first cycle 1 epoch and each next one twice as long (PyTorch's
    ``CosineAnnealingWarmRestarts`` with ``T_0=1, T_mult=2``): cycles of 1, 2, 4, 8, ...
    epochs, each starting at ``lr`` and falling towards ``min_lr``."""
    position, length = epoch - 1, 1
    while position >= length:
        position -= length
        length *= 2
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * position / length)) / 2


def train_last_layers(model: Classifier, data: UnlearningData, params: dict, ctx: Context, *, reset: bool, name: str):
    """Train the last ``params['k']`` layers of ``model`` on D_r, reinitialised first if ``reset``."""
    if data.retain is None:
        raise ValueError(f"{name} needs the retain set")
    names = last_k_layers(model, int(params["k"]))
    if reset:
        reinitialise(model, names, derived_seed(ctx.seed, 1))
    total = sum(p.numel() for p in model.parameters())
    with train_only(model, names) as trainable:
        result = train_with(
            model,
            data.retain,
            params,
            ctx,
            name,
            lr_at=lambda epoch: warm_restart_lr(epoch, params["lr"], params["lr"] * params["min_lr_fraction"]),
            max_grad_norm=params["max_grad_norm"],
        )
    ctx.notes.update(
        layers=names,
        k=int(params["k"]),
        k_effective=min(int(params["k"]), counted_layers(model)),
        trainable_share=trainable / total,
        loss_per_epoch=[entry["loss"] for entry in result.history],
    )
    model.eval()
    return model
