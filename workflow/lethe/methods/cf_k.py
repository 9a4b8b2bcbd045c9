"""CF-k: catastrophic forgetting of the last k layers (fine-tune them on D_r).

Goel, Prabhu, Sanyal, Lim, Torr and Kumaraguru, "Towards Adversarial Evaluations for
Inexact Machine Unlearning" (arXiv 2201.06640); code ``shash42/Evaluating-Inexact-Unlearning``.
EU-k (:mod:`lethe.methods.eu_k`) without the reinitialisation: the last k layers start
from the original's weights and are fine-tuned on the retain set while the rest stays
frozen, so forgetting comes only from catastrophic forgetting in those layers. With k
at least the model's number of layers it is fine-tuning (``finetune``) with this
method's recipe. Layers, frozen norm layers and cost are as in EU-k.
"""

from __future__ import annotations

from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.last_layers import train_last_layers
from lethe.models.registry import Classifier


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    return train_last_layers(model, data, params, ctx, reset=False, name="cf_k")
