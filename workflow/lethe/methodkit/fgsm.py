"""FGSM in pixel space for models that see standardised images (Boundary Shrink's label oracle).

Goodfellow et al.'s fast gradient sign method, one step of size ε under the L∞ bound:

    pixel_adv = clamp(pixel + ε · sign(∇_pixel CE(f(x), y)), 0, 1)

Lethe's images are standardised per channel, x = (pixel − mean) / std, with pixels in
[0, 1] (the dataset manifest's mean and std, :func:`lethe.data.tensors.normalise`). The
attack therefore runs in the normalised space with the bound and the clamp converted:
a step of ε/std per channel and the box [(0 − mean)/std, (1 − mean)/std]. Since std > 0,
sign(∇_pixel) = sign(∇_x), so this is exactly the pixel-space attack, with no round trip
through pixels. The ε = 0.1 of Boundary Unlearning is a pixel-space bound: on digits
(std 0.376) it is 0.266 in normalised units.

The input gradient comes from ``torch.autograd.grad`` of the *summed* (not mean)
cross-entropy, so per-sample gradients are not scaled by 1/B (a mean could underflow
small gradients to exactly 0, and sign(0) = 0 leaves the pixel unperturbed), and no
parameter's ``.grad`` is touched. The model is evaluated in eval mode (BatchNorm on
running statistics, as the Boundary Unlearning code puts its frozen attack model in
eval mode); its previous mode is restored.

Not done (the Boundary Unlearning code does it): rounding the adversarial image to the
8-bit grid. Rounding to the nearest grey level can exceed ε by half a level, and the
adversarial image only serves to pick a label here; it is never trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lethe.data.tensors import Split, index_batches


def normalised_box(
    mean: Sequence[float] | None, std: Sequence[float] | None, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(scale, low, high) per channel, shaped to broadcast over N×C×H×W like ``like``.

    ``scale`` = 1/std maps a pixel-space distance to the normalised space; ``low`` and
    ``high`` are the images of pixel values 0 and 1. The std is clamped at 1e-6 exactly
    as in :func:`lethe.data.tensors.normalise`.
    """
    if mean is None or std is None:
        raise ValueError(
            "FGSM needs the dataset's normalisation (UnlearningData.mean/std from the manifest) to convert "
            "its pixel-space bound; got None"
        )
    channels = like.shape[1]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"normalisation has {len(mean)} means / {len(std)} stds for {channels}-channel images")
    mean_t = torch.tensor(list(mean), dtype=like.dtype, device=like.device).view(1, -1, 1, 1)
    std_t = torch.tensor(list(std), dtype=like.dtype, device=like.device).view(1, -1, 1, 1).clamp_min(1e-6)
    return 1.0 / std_t, (0.0 - mean_t) / std_t, (1.0 - mean_t) / std_t


def fgsm(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> torch.Tensor:
    """Untargeted one-step FGSM on normalised images ``x``; ε is in [0, 1] pixel units."""
    scale, low, high = normalised_box(mean, std, x)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x_in = x.detach().clone().requires_grad_(True)
            loss = F.cross_entropy(model(x_in), y, reduction="sum")
            (gradient,) = torch.autograd.grad(loss, x_in)
    finally:
        model.train(was_training)
    x_adv = x.detach() + (eps * scale) * gradient.sign()
    return torch.maximum(torch.minimum(x_adv, high), low)


@torch.no_grad()
def nearest_but_incorrect(
    model: nn.Module,
    data: Split,
    eps: float,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    batch_size: int = 1024,
) -> torch.Tensor:
    """argmax f(FGSM(x)) for every sample of ``data``: the label of the nearest other class.

    Batched; deterministic (no random start). Where the attack fails the label is the
    true one: callers decide what to do with those samples.
    """
    labels = torch.empty_like(data.y)
    was_training = model.training
    model.eval()
    for index in index_batches(len(data), batch_size, shuffle=False):
        index = index.to(data.y.device)
        x_adv = fgsm(model, data.x[index], data.y[index], eps, mean, std)
        labels[index] = model(x_adv).argmax(1)
    model.train(was_training)
    return labels
