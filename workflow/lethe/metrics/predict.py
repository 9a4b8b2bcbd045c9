"""Batched inference: one forward pass per split, reused by every metric.

``amp`` (the config's mixed-precision setting, :func:`lethe.device.amp_dtype`) runs the
forward passes under autocast; the results are returned as float32 either way.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lethe.data.tensors import Split, index_batches
from lethe.device import amp_dtype, autocast


def _device(model: nn.Module, split: Split) -> torch.device:
    return next((p.device for p in model.parameters()), split.x.device)


@torch.no_grad()
def logits(model: nn.Module, split: Split, batch_size: int = 1024, amp: bool | str = False) -> torch.Tensor:
    """Logits of ``model`` on every sample of ``split`` (eval mode), on CPU."""
    model.eval()
    device = _device(model, split)
    with autocast(device, amp_dtype(amp, device)):
        out = [
            model(split.x[index.to(split.x.device)]).float().cpu()
            for index in index_batches(len(split), batch_size, shuffle=False)
        ]
    return torch.cat(out) if out else torch.empty(0)


def logits_accuracy(z: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of logits ``z`` (CPU) against labels ``y``; NaN for no samples."""
    return float((z.argmax(1) == y.cpu()).float().mean()) if len(y) else float("nan")


def predictions(model: nn.Module, split: Split, batch_size: int = 1024, amp: bool | str = False) -> np.ndarray:
    return logits(model, split, batch_size, amp).argmax(1).numpy()


@torch.no_grad()
def features_and_logits(
    model: nn.Module, split: Split, batch_size: int = 1024, amp: bool | str = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (on the model's device) and logits (on CPU) of every sample: one batched pass."""
    model.eval()
    device = next(model.parameters()).device
    with autocast(device, amp_dtype(amp, device)):
        feats = [
            model.features(split.x[index.to(split.x.device)].to(device)).flatten(1).float()
            for index in index_batches(len(split), batch_size, shuffle=False)
        ]
        feats = torch.cat(feats)
        out = model.head(feats).float().cpu()
    return feats, out


def logit_confidence(logits: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> np.ndarray:
    """φ = z_y − logsumexp_{j≠y} z_j per row (float64): log p_y / (1 − p_y) without cancellation."""
    z = torch.as_tensor(logits).double()
    y = torch.as_tensor(y).long().view(-1, 1)
    own = z.gather(1, y).squeeze(1)
    others = z.scatter(1, y, float("-inf"))
    return (own - torch.logsumexp(others, dim=1)).numpy()
