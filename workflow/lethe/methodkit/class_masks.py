"""ERM: an original model trained with entanglement-reduced class masks (the first half of ERM-KTP).

Lin, Zhang, Chen, Chen and Susilo, "ERM-KTP: Knowledge-Level Machine Unlearning via
Knowledge Transfer", CVPR 2023; official code ``RUIYUN-ML/ERM-KTP`` (``ERM_laryer.py``,
``train_ERM.py``), whose mask layer follows the class-specific gates of Liang et al.'s
CSG CNN. This module trains the model the pipeline calls the ERM original (rule
``train_erm``); :mod:`lethe.methods.erm_ktp` unlearns from it.

**The mask.** One matrix M of shape D × K (D features feeding the output layer, K
classes). During training, on masked epochs only, the features of a sample of class y are
multiplied feature by feature by column y of M before the output layer; at test time no
mask is applied and the model is an ordinary classifier. The code puts M on the last
convolution block of a ResNet, before global average pooling; pooling is linear, so
masking the pooled features channel by channel is the same thing, and Lethe masks every
architecture's penultimate features (the MLP's and the small CNN's hidden units, the
ResNet's pooled channels, a ViT's pre-logits).

**Parameterisation** (the code's ``clip_lmask``): M starts at ``mask_init`` 0.5 and,
after every optimiser step, each row (one feature, across classes) is divided by its
largest entry and clipped to [0, 1], so every feature's most-using class has gate 1 (the
effective start is therefore all ones). Lethe's guard, not in the code: a row whose
largest entry is not positive is set to zero (the code divides by it, which gives NaN
for a zero row and turns a negative row fully on).

**Loss on a masked batch.** Cross-entropy of the masked logits plus
``mask_weight`` × [max(0, ‖M‖₁ − ``sparsity_target``·D·K) + ``entanglement_weight`` ·
Σ_{i<j} ⟨m_i, m_j⟩], with m_k column k: a hinge ℓ1 term that acts once the mean gate
exceeds the target, and the raw inner products of every pair of class columns (the
"entanglement"). Defaults are the code's: 1e-3, 0.1 and 0.1. Unmasked batches use plain
cross-entropy.

**Schedule.** Epoch e (0-based) is masked when e mod ``mask_period`` ≥ ``mask_phase``:
the code's 3 and 2, one epoch in three (the 3rd, 6th, ...).

**Recipe: Lethe's choice.** The code trains ResNet-20 with SGD (lr 0.1, momentum 0.9,
weight decay 5e-4) for 201 epochs with steps at 100 and 150, one optimiser over the
weights and M. Lethe trains the ERM original with the configuration's ``train`` recipe,
the one its ordinary original gets, with one optimiser over the weights and M: the two
originals then differ only in the masks. Mixed precision is not used here.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from lethe.data.tensors import Split
from lethe.methodkit.passes import optimiser_pass
from lethe.models.registry import Classifier
from lethe.seeds import derived_seed
from lethe.train import FitResult, make_optimizer

log = logging.getLogger(__name__)

MASK_KEY = "class_mask"  # the name of M in the ERM original's stages file
MASK_MOMENTUM, MASK_WEIGHT_DECAY = 0.9, 5e-4  # the code's SGD settings, which its mask shares


@torch.no_grad()
def project(mask: torch.Tensor) -> None:
    """Each row divided by its largest entry, then clipped to [0, 1]; rows with no positive entry become 0."""
    top = mask.max(dim=1, keepdim=True).values
    mask.copy_(torch.where(top > 0, mask / top.clamp_min(1e-12), torch.zeros_like(mask)).clamp_(0.0, 1.0))


def regulariser(mask: torch.Tensor, sparsity_target: float, entanglement_weight: float) -> torch.Tensor:
    """max(0, ‖M‖₁ − target·numel) + w · Σ_{i<j} ⟨m_i, m_j⟩ over the class columns m of M."""
    sparsity = torch.relu(mask.abs().sum() - sparsity_target * mask.numel())
    gram = mask.t() @ mask
    entanglement = torch.triu(gram, diagonal=1).sum()
    return sparsity + entanglement_weight * entanglement


def masked_logits(model: Classifier, mask: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Logits with each sample's features gated by its class's column of M."""
    return model.head(model.features(x) * mask.t()[y])


def is_masked_epoch(epoch: int, period: int, phase: int) -> bool:
    """Whether 0-based ``epoch`` uses the masked path (the code's ``epoch % period >= phase``)."""
    return epoch % int(period) >= int(phase)


def class_channels(mask: torch.Tensor, classes) -> torch.Tensor:
    """Boolean vector over features: used (gate > 0) by any of ``classes``."""
    return (mask[:, list(classes)] > 0).any(dim=1)


def train_erm(
    model: Classifier, train: Split, recipe: dict, params: dict, seed: int
) -> tuple[torch.Tensor, FitResult, list[dict]]:
    """Train ``model`` (in place) with class masks; returns M (D × K), the cost and per-epoch notes."""
    if not isinstance(getattr(model, "head", None), nn.Linear):
        raise ValueError("ERM needs a classifier with a linear head on its features")
    device = next(model.parameters()).device
    mask = nn.Parameter(
        torch.full((model.head.in_features, model.head.out_features), float(params["mask_init"]), device=device)
    )
    optimizer = make_optimizer(
        model.parameters(), recipe["optimizer"], recipe["lr"], recipe["momentum"], recipe["weight_decay"]
    )
    mask_optimizer = make_optimizer([mask], "sgd", float(params["mask_lr"]), MASK_MOMENTUM, MASK_WEIGHT_DECAY)

    def mask_step() -> None:
        if mask.grad is not None:
            mask_optimizer.step()
            mask_optimizer.zero_grad(set_to_none=True)
        project(mask.data)

    generator = torch.Generator().manual_seed(derived_seed(seed, 1))
    weight = float(params["mask_weight"])
    target, ent = float(params["sparsity_target"]), float(params["entanglement_weight"])

    def plain(index: torch.Tensor) -> torch.Tensor:
        index = index.to(train.y.device)
        return F.cross_entropy(model(train.x[index]), train.y[index])

    def masked(index: torch.Tensor) -> torch.Tensor:
        index = index.to(train.y.device)
        y = train.y[index]
        return F.cross_entropy(masked_logits(model, mask, train.x[index], y), y) + weight * regulariser(
            mask, target, ent
        )

    result, history = FitResult(), []
    for epoch in range(int(recipe["epochs"])):
        use_mask = is_masked_epoch(epoch, params["mask_period"], params["mask_phase"])
        loss = optimiser_pass(
            model,
            optimizer,
            len(train),
            recipe["batch_size"],
            generator,
            masked if use_mask else plain,
            result,
            after_step=mask_step,
        )
        result.epochs = epoch + 1
        with torch.no_grad():
            entry = {
                "epoch": epoch + 1,
                "masked": use_mask,
                "loss": loss,
                "density": float(mask.mean()),
                "active_per_class": (mask > 0).sum(0).tolist(),
            }
        history.append(entry)
        log.info(
            "erm epoch %d/%d %s loss %.4f mask density %.3f",
            epoch + 1,
            recipe["epochs"],
            "masked" if use_mask else "plain",
            loss,
            entry["density"],
        )
    model.eval()
    return mask.detach(), result, history
