"""UNSIR: error-maximising noise, then impair and repair (Tarun et al., TNNLS 2023).

"Fast Yet Effective Machine Unlearning" (Tarun, Chundawat, Mandal, Kankanhalli);
reference behaviour from the authors' notebook (``vikram2000b/Fast-Machine-Unlearning``,
``Machine Unlearning.ipynb``). Zero-glance: no forget image is used, only
the forget class ids and a retain subset.

1. For each forget class c, one learnable noise batch N_c of ``noise_batch`` (256)
   images, initialised N(0, 1), minimises ``−CE(f_θ*(N_c), c) + noise_l2 · mean_i
   ||N_c,i||²`` (λ = 0.1) with Adam lr 0.1 for ``noise_steps`` = 40 full-batch steps
   (the notebook's 5 "epochs" × 8 steps), θ* frozen. The noise cost therefore grows
   linearly with the number of forget classes: k classes take k × 40 steps.
2. Impair: ``noise_copies`` = 20 copies of every N_c (labelled c) ∪ D_r^sub, shuffled,
   batch 256, cross-entropy, Adam lr 0.02, 1 epoch.
3. Repair: D_r^sub only, batch 256, Adam lr 0.01, 1 epoch.

D_r^sub: up to ``retain_per_class`` (1000) samples of every retained class, drawn at
random from ``ctx.seed`` (the notebook takes the first 1000 of each class folder).

Choices where the notebook is wrong or silent (ours):

* the notebook labels every noise sample ``class_num = 0`` in the impair set (its issue
  #2); here N_c carries its own class c;
* the notebook learns the noise with the model in train mode (BatchNorm statistics
  move); here the model is in eval mode and frozen;
* the noise initialisation and D_r^sub are seeded from ``ctx.seed`` (the notebook uses
  the global torch seed);
* noise lives in the normalised input space of the dataset (``data.shape``), as in the
  notebook, where the model sees normalised CIFAR tensors;
* no weight decay or gradient clipping in impair and repair (none in the notebook).

The 40 noise steps count as optimiser steps in the run record (``ctx.steps``), beside
the impair and repair steps; ``notes`` itemises them. Class forgetting only.
"""

from __future__ import annotations

from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.impair_repair import concat_noise, impair_repair, learned_noise, mixed_labels, start
from lethe.models.registry import Classifier


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    classes, retain_sub = start(model, data, params, ctx, "unsir", per_class=True)
    noises = [  # one optimisation per class: the cost grows with k
        learned_noise(
            model, mixed_labels([c], int(params["noise_batch"]), ctx.device), data.shape, params, ctx, index=i
        )
        for i, c in enumerate(classes)
    ]
    return impair_repair(model, concat_noise(noises), retain_sub, params, ctx, "unsir")
