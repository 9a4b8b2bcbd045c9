"""Batched inference: one forward pass per split, reused by every metric."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lethe.data.tensors import Split, index_batches


@torch.no_grad()
def logits(model: nn.Module, split: Split, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` on every sample of ``split`` (eval mode), on CPU."""
    model.eval()
    out = [
        model(split.x[index.to(split.x.device)]).float().cpu()
        for index in index_batches(len(split), batch_size, shuffle=False)
    ]
    return torch.cat(out) if out else torch.empty(0)


def predictions(model: nn.Module, split: Split, batch_size: int = 1024) -> np.ndarray:
    return logits(model, split, batch_size).argmax(1).numpy()


@torch.no_grad()
def features_and_logits(model: nn.Module, split: Split, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (on the model's device) and logits (on CPU) of every sample: one batched pass."""
    model.eval()
    device = next(model.parameters()).device
    feats = [
        model.features(split.x[index.to(split.x.device)].to(device)).flatten(1).float()
        for index in index_batches(len(split), batch_size, shuffle=False)
    ]
    feats = torch.cat(feats)
    return feats, model.head(feats).float().cpu()
