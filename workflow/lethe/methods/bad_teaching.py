"""Bad Teaching: a competent and an incompetent teacher distilled into one student.

Chundawat, Tarun, Mandal and Kankanhalli, "Can Bad Teaching Induce Forgetting?
Unlearning in Deep Networks Using an Incompetent Teacher", AAAI 2023; official code
``vikram2000b/bad-teaching-unlearning`` (``unlearn.py``).

* Student S: starts from θ*. Competent teacher T_s: θ*, frozen. Incompetent teacher
  T_d: the same architecture, randomly initialised, frozen. Lethe builds T_d with
  :func:`lethe.models.registry.build_model` from a seed derived from the run's seed
  (``SeedSequence([seed, 1])``), not the seed itself, because the original model and
  the retrained one are initialised from ``seed``: T_d would otherwise be θ*'s own
  starting point.
* Data: all of D_f (label l_u = 1) and a random ``retain_fraction`` (0.3) of D_r
  (l_u = 0; ``floor(0.3·|D_r|)`` samples drawn without replacement with a seeded
  generator, ``SeedSequence([seed, 2])``), shuffled together.
* Loss per batch: L = KL(t(x) ‖ softmax(S(x)/T)) with
  t(x) = l_u·softmax(T_d(x)/T) + (1 − l_u)·softmax(T_s(x)/T), and no T² factor (as in
  the code). Reduction: the code calls ``F.kl_div`` with its default ``'mean'``, which
  divides the summed KL by B·C (batch × classes) rather than B. Lethe uses
  ``'batchmean'``, the KL divergence per sample that the paper's equation states;
  the two differ by the constant factor C, to which Adam is invariant (up to its ε),
  so the updates agree with the code's while the logged loss is the real KL.
* Teachers are in eval mode, so their outputs are fixed: Lethe evaluates T_d on the
  forget samples and T_s on the retain samples once, batched, before training (the
  code evaluates both teachers on every batch; the targets are identical). This cost
  is inside the timed region. The student trains in train mode.
* Defaults (code, notebook and the SSD reimplementation agree): Adam lr 1e-4, 1 epoch,
  batch 256, T = 1, retain fraction 0.3.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from lethe.data.tensors import Split, index_batches
from lethe.device import prepare_model
from lethe.methodkit.base import Context, UnlearningData
from lethe.models.registry import Classifier, build_model
from lethe.seeds import derived_seed
from lethe.train import fit


@torch.no_grad()
def teacher_probabilities(
    teacher: torch.nn.Module, x: torch.Tensor, temperature: float, batch_size: int
) -> torch.Tensor:
    teacher.eval()
    return torch.cat(
        [
            torch.softmax(teacher(x[i.to(x.device)]) / temperature, dim=1)
            for i in index_batches(len(x), batch_size, shuffle=False)
        ]
    )


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    if data.forget is None or data.retain is None:
        raise ValueError("bad_teaching needs the forget and the retain set")
    temperature, batch_size = float(params["temperature"]), params["batch_size"]
    competent = model  # θ*, read before the student takes a single step
    incompetent = build_model(ctx.arch, data.shape, data.num_classes, seed=derived_seed(ctx.seed, 1), pretrained=False)
    incompetent = prepare_model(incompetent, ctx.device, ctx.memory_format)

    n_retain = math.floor(params["retain_fraction"] * len(data.retain))
    chosen = np.random.default_rng(derived_seed(ctx.seed, 2)).permutation(len(data.retain))[:n_retain]
    retain = data.retain.subset(np.sort(chosen))
    targets = torch.cat(
        [
            teacher_probabilities(incompetent, data.forget.x, temperature, batch_size),
            teacher_probabilities(competent, retain.x, temperature, batch_size),
        ]
    )
    del incompetent
    # y holds each sample's row in `targets`: fit() then shuffles and batches both together.
    mixed = Split(torch.cat([data.forget.x, retain.x]), torch.arange(len(targets), device=targets.device))

    def loss_fn(student: Classifier, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        log_student = F.log_softmax(student(x) / temperature, dim=1)
        return F.kl_div(log_student, targets[rows], reduction="batchmean")

    result = fit(
        model,
        mixed,
        epochs=params["epochs"],
        batch_size=batch_size,
        lr=params["lr"],
        optimizer="adam",
        seed=ctx.seed,
        loss_fn=loss_fn,
        name="bad_teaching",
        amp=ctx.amp,
    )
    ctx.count(result)
    ctx.notes.update(
        retain_used=n_retain,
        forget_used=len(data.forget),
        incompetent_teacher_seed=derived_seed(ctx.seed, 1),
        final_loss=result.history[-1]["loss"],
    )
    return model
