"""Fine-tuning (FT) on the retain set.

Golatkar et al., "Eternal Sunshine of the Spotless Net", CVPR 2020, use it as a
baseline; defaults follow the SSD code (SGD, momentum 0.9, 5 epochs, lr 0.02, weight
decay 5e-4). Forgetting comes only from catastrophic forgetting, so at small learning
rates the forget accuracy falls slowly.
"""

from __future__ import annotations

from lethe.methodkit.base import Context, UnlearningData
from lethe.models.registry import Classifier
from lethe.train import fit


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    result = fit(
        model,
        data.retain,
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        lr=params["lr"],
        optimizer=params["optimizer"],
        momentum=params["momentum"],
        weight_decay=params["weight_decay"],
        seed=ctx.seed,
        name="finetune",
        amp=ctx.amp,
    )
    ctx.count(result)
    return model
