"""ERM-KTP: knowledge transfer and prohibition from an original trained with class masks.

Lin, Zhang, Chen, Chen and Susilo, "ERM-KTP: Knowledge-Level Machine Unlearning via
Knowledge Transfer", CVPR 2023; official code ``RUIYUN-ML/ERM-KTP`` (``KTP.py``). The
method starts from its own original, the ERM original (rule ``train_erm``,
:mod:`lethe.methodkit.class_masks`): a model trained with a learned class × feature mask
M, stored beside its weights. The paper's full text was not at hand; what follows is the
code's reading, with each choice named.

**Knowledge of the forgotten classes.** A feature (a penultimate unit; a channel of the
code's ResNet) belongs to the forgotten classes T when its gate is positive for any class
of T: it is removed even when retained classes use it too. ``keep`` marks the others.

**Prohibition** is structural; no loss ever sees D_f (the method receives only the
forgotten class ids). The student's output layer is the teacher's with the columns of
removed features and the rows and biases of the forgotten classes set to zero, and it is
frozen: the forgotten classes' logits are identically 0, and the removed features cannot
reach any logit.

**Transfer.** The student is trained on D_r to reproduce the teacher's penultimate
features: loss = MSE(f_s, f_t) + MSE(f_s, f_t ⊙ keep), the code's feature-map term and
its pooled term with the removed channels zeroed (for penultimate vectors the feature map
and the pooled features are the same vector; the two terms pull the removed features to
the teacher's values and to zero, as in the code). No temperature, no logits.

Choices:

* Student initialisation ``student_init``: ``random`` (default; the code builds a fresh
  network and copies only the head, so the backbone is trained from scratch on D_r) or
  ``teacher`` (a third-party reimplementation's reading: start from the ERM original).
* The teacher is in eval mode (the code leaves it in train mode, so its batch norms see
  retain-only batch statistics and keep updating; a quirk Lethe does not copy).
* Recipe: SGD, lr 0.1, momentum 0.9, weight decay 5e-4, batch 256 (the code's). The code
  runs 201 epochs whose learning rate is 0.1 until epoch 16, 0.01 until 26 and 0.001 after
  (its scheduler steps only after epoch 5, milestones 10 and 20); Lethe's default stops at
  30 epochs, where that schedule has ended, and the decay epochs are parameters.
* Class forgetting only: the masks are per class.

Measured (``tests/methods/test_erm_ktp.py`` has the digits table): on digits (MLP, 30-epoch
original, 10 masked epochs, 380 mask steps) the code's mask settings leave every feature
on for every class; KTP then removes them all and the student predicts one class
(retained accuracy 0.111). The default config sets ``mask_lr`` 1.0 and ``mask_weight``
0.01, which make the masks sparse (9-22 of 128 features per class): class 3 falls to
acc_forget 0.04-0.19 over seeds 0-2, retained test accuracy 0.906-0.958 (the structural
prohibition leaves the forgotten class's logit at exactly 0, which still wins on an image
whose other logits are all negative). On Fashion-MNIST (small CNN, 3-epoch recipe, T-shirt
class, seeds 0-2, the same mask settings, 3 transfer epochs) the single masked epoch costs
the ERM originals 17-35 points of test accuracy (0.73, 0.54, 0.55 against 0.90), and the
transfer at SGD lr 0.1 returns NaN weights on two seeds and a one-class student on the
third: the small CNN has no batch normalisation, the code's ResNet-20 has.

Cost: the steps and samples of the transfer (the ERM original's training is the original's
cost, recorded in its sidecar); ``notes`` give the removed features and the loss per epoch.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from lethe.device import prepare_model
from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.class_masks import MASK_KEY, class_channels
from lethe.methodkit.passes import epoch_lr, train_with
from lethe.models.registry import Classifier, build_model
from lethe.seeds import derived_seed

STUDENT_INITS = ("random", "teacher")


def ktp_head(teacher: Classifier, student: Classifier, keep: torch.Tensor, forget_classes) -> None:
    """The student's frozen head: the teacher's, removed features' columns and forgotten classes' rows zeroed."""
    with torch.no_grad():
        weight = teacher.head.weight.detach().clone()
        bias = teacher.head.bias.detach().clone()
        weight[:, ~keep] = 0.0
        weight[list(forget_classes)] = 0.0
        bias[list(forget_classes)] = 0.0
        student.head.weight.copy_(weight)
        student.head.bias.copy_(bias)
    student.head.requires_grad_(False)


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    stages = getattr(model, "stages", None) or {}
    if MASK_KEY not in stages:
        raise ValueError(
            "erm_ktp starts from the ERM original (results/models/{dataset}/{arch}/seed{seed}/erm_original"
            ".safetensors, rule train_erm), whose class masks it needs; this model has none"
        )
    if not data.forget_classes:
        raise ValueError("erm_ktp forgets classes only (its masks are per class)")
    if data.retain is None:
        raise ValueError("erm_ktp needs the retain set")
    if params["student_init"] not in STUDENT_INITS:
        raise ValueError(f"erm_ktp: student_init must be one of {STUDENT_INITS}, got {params['student_init']!r}")
    mask = stages[MASK_KEY]
    keep = ~class_channels(mask, data.forget_classes).to(model.head.weight.device)
    teacher = model.eval()
    if params["student_init"] == "random":
        student = build_model(ctx.arch, data.shape, data.num_classes, seed=derived_seed(ctx.seed, 1))
        student = prepare_model(student, ctx.device, ctx.memory_format)
    else:
        student = copy.deepcopy(teacher)
        student.stages = None
    ktp_head(teacher, student, keep, data.forget_classes)
    keep_f = keep.to(torch.float32)

    def transfer_loss(net, x, _y):
        with torch.no_grad():
            target = teacher.features(x)
        features = net.features(x)
        return F.mse_loss(features, target) + F.mse_loss(features, target * keep_f)

    decay = list(params["lr_decay_epochs"])
    result = train_with(
        student,
        data.retain,
        params,
        ctx,
        "erm_ktp",
        loss_fn=transfer_loss,
        lr_at=lambda epoch: epoch_lr(params["lr"], epoch, decay, params["lr_decay_rate"]),
    )
    student.head.requires_grad_(True)
    ctx.notes.update(
        removed_features=int((~keep).sum()),
        features=int(keep.numel()),
        loss_per_epoch=[entry["loss"] for entry in result.history],
    )
    return student.eval()
