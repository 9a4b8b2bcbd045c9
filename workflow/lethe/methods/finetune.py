"""Fine-tuning (FT) on the retain set.

Golatkar et al., "Eternal Sunshine of the Spotless Net", CVPR 2020, use it as a
baseline; defaults follow the SSD code (SGD, momentum 0.9, 5 epochs, lr 0.02, weight
decay 5e-4). Forgetting comes only from catastrophic forgetting, so at small learning
rates the forget accuracy falls slowly.
"""

from __future__ import annotations

from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.passes import train_with
from lethe.models.registry import Classifier


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    train_with(model, data.retain, params, ctx, "finetune")
    return model
