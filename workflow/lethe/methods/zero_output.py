"""Output-layer zeroing: the naive baseline of the notebooks Lethe started from.

For every forgotten class c, set the output layer's weight row W[c, :] and bias b[c]
to 0. No data and no training. The forgotten logit becomes exactly 0 (not −∞), so the
class can still win where every other logit is negative, and every hidden layer is
untouched: a probe of the penultimate features still finds the class. Report it only
as a lower bound. Defined for class forgetting only.
"""

from __future__ import annotations

import torch

from lethe.methodkit.base import Context, UnlearningData
from lethe.models.registry import Classifier


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    if data.forget_classes is None:
        raise ValueError("zero_output only applies to class forgetting")
    rows = torch.tensor(data.forget_classes, dtype=torch.long, device=model.head.weight.device)
    with torch.no_grad():
        model.head.weight[rows] = 0.0
        model.head.bias[rows] = 0.0
    return model
