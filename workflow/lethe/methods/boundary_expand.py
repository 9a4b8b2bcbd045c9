"""Boundary Expanding: train the forget data into a shadow class, then prune that class.

Chen, Gao, Liu, Peng and Wang, "Boundary Unlearning: Rapid Forgetting of Deep Networks
via Shifting the Decision Space", CVPR 2023 (BibTeX ``chen2023boundary``); original-code
mirror ``TY-LEE-KR/Boundary-Unlearning-Code``, ``boundary_unlearning.py``. Forget data
only: the catalogue declares ``needs_retain=False``, so :func:`lethe.unlearning.data_view`
hands the method ``data.retain = None``.

1. Widen the output layer from C to C+1 classes: rows 0..C−1 (weights and biases) are
   copied from θ*, row C (the shadow class) is freshly initialised.
2. Fine-tune the *whole* network (body and widened head) on the forget images, every
   one labelled C, with CE. Defaults are the code's: SGD lr 1e-5, momentum 0.9, no
   weight decay, 10 epochs over D_f, batch 64 (``main.py``'s default).
3. Drop the shadow row: the returned model has exactly C outputs and is the registry's
   architecture (its checkpoint loads with :func:`lethe.models.registry.build_model`).
   The retained rows keep what step 2 did to them: the CE gradient pushes every
   non-shadow logit down on the forget features, so rows 0..C−1 are trained, not copies.

Choices the paper leaves open, and Lethe's:

* Shadow-row initialisation: PyTorch's default for a linear layer,
  U(−1/√d, 1/√d) for the weights and the bias (d = feature width), drawn from a NumPy
  generator seeded with ``[seed, 23]`` (its own stream, independent of the shuffling
  and of the global RNG). The code re-initialises a whole new layer with its own
  ``init_params`` and then copies the old rows over it.
* Pitfall avoided: SalUn's reimplementation (``boundary_ex.py``) never prunes the shadow
  row, so its "unlearned" model keeps C+1 outputs and the forget samples are still
  *recognised*, as the shadow class. Lethe prunes, as the original code does.
* Several forgotten classes share one shadow class (the code has one shadow row).
* Random-sample forgetting: the paper evaluates class forgetting only, but the method
  never reads the class id (every forget sample goes to the shadow class), and SalUn
  (Fan et al., ICLR 2024, Table 1) runs Boundary Expanding on 10 % random forgetting.
  Lethe follows that reading (``class_only=False``).
* The network is in train mode during the fine-tuning (:func:`lethe.train.fit`), as in
  the code: for BatchNorm architectures the running statistics move towards D_f's.

At the paper's lr 1e-5 the step is tiny: on digits (123 forget images, 2 steps per
epoch) 20 SGD steps leave class 3 intact; the tests run lr 1e-3, which forgets it, and
the default run takes lr and epochs from the shipped search
(``config/tuned/digits/mlp/boundary_expand-*.yaml``; ``tests/methods/test_boundary.py`` has the
measurements).

Cost counters: ``steps`` are SGD steps, ``samples`` the training samples. ``notes``:
``shadow_rate``, the fraction of D_f that the widened network assigns to the shadow
class just before pruning (one batched forward pass over D_f, inside the timed region),
and the epochs run.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from lethe.data.tensors import Split
from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.passes import train_with
from lethe.models.registry import Classifier
from lethe.train import accuracy

SHADOW_STREAM = 23  # the NumPy seed sequence [seed, 23] initialises the shadow row


def widen_head(head: nn.Linear, seed: int) -> nn.Linear:
    """A copy of ``head`` with one more output row, initialised as PyTorch's nn.Linear would."""
    out_features, in_features = head.weight.shape
    bound = 1.0 / math.sqrt(in_features)
    rng = np.random.default_rng([seed, SHADOW_STREAM])
    shadow = torch.as_tensor(rng.uniform(-bound, bound, size=in_features + 1), dtype=head.weight.dtype)
    wide = nn.utils.skip_init(nn.Linear, in_features, out_features + 1, device=head.weight.device)
    wide = wide.to(head.weight.dtype)
    with torch.no_grad():
        wide.weight[:out_features] = head.weight
        wide.bias[:out_features] = head.bias
        wide.weight[out_features] = shadow[:in_features].to(head.weight.device)
        wide.bias[out_features] = shadow[in_features].to(head.weight.device)
    return wide


def prune_head(wide: nn.Linear, num_classes: int) -> nn.Linear:
    """The first ``num_classes`` rows of ``wide`` as a new linear layer (the shadow row dropped)."""
    pruned = nn.utils.skip_init(nn.Linear, wide.in_features, num_classes, device=wide.weight.device)
    pruned = pruned.to(wide.weight.dtype)
    with torch.no_grad():
        pruned.weight.copy_(wide.weight[:num_classes])
        pruned.bias.copy_(wide.bias[:num_classes])
    return pruned


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    forget = data.forget
    if forget is None or len(forget) == 0:
        raise ValueError("boundary_expand needs a non-empty forget set (needs_forget=True in the catalogue)")
    num_classes = model.head.out_features
    if num_classes != data.num_classes:
        raise ValueError(
            f"boundary_expand: the model has {num_classes} outputs, the dataset {data.num_classes} classes"
        )
    model.head = widen_head(model.head, ctx.seed)
    shadow = Split(forget.x, torch.full_like(forget.y, num_classes))
    result = train_with(model, shadow, params, ctx, "boundary_expand")
    shadow_rate = accuracy(model, shadow)  # batched, eval mode: the fraction of D_f now in the shadow class
    model.head = prune_head(model.head, num_classes)
    ctx.notes.update(shadow_rate=shadow_rate, epochs_run=result.epochs)
    return model
