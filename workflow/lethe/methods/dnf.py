"""DNF: impair with drawn (untrained) noise labelled as the forget classes, then repair.

"Fast and Accurate Class-Level Machine Unlearning using Impair–Repair and Noise-Induced
Forgetting Mechanisms", Method II. Only the paper's results section could be read.
DNF skips the error-maximising optimisation of USI(F)R
(:mod:`lethe.methods.usifr`) and is the cheapest of the family.

[unverified] The reading implemented here, the one we judge most likely: a batch of
``noise_batch`` = 250 images drawn from N(0, 1) in the normalised input space (shape
``data.shape``), labels cycling through the forget classes (``noise_per_class: true``
gives every class its own 250), replaces the learned noise in USI(F)R's impair step
(D_i = D_r^sub ∪ noise, ``noise_copies`` = 1, batch 250, Adam lr 0.02, 1 epoch), followed
by the same repair (D_r^sub, Adam lr 0.01, 1 epoch). D_r^sub is 1000 random retain
samples, drawn from ``ctx.seed``; so is the noise. No noise steps: ``notes.noise_steps``
is 0. Class forgetting only.
"""

from __future__ import annotations

from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.impair_repair import drawn_noise, impair_repair, mixed_labels, noise_size, start
from lethe.models.registry import Classifier


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    classes, retain_sub = start(model, data, params, ctx, "dnf")
    labels = mixed_labels(classes, noise_size(params, len(classes)), ctx.device)
    return impair_repair(model, drawn_noise(labels, data.shape, ctx.seed, ctx.device), retain_sub, params, ctx, "dnf")
