"""Partially Blinded Unlearning (PBU): forget data only, no retain data at all.

Panda, Sourav and Prathosh, "Partially Blinded Unlearning: Class Unlearning for Deep
Networks from Bayesian Perspective", AAAI 2025 (arXiv 2403.16246); official code
``Shash12-ship/pbu``. The method never receives the retain set: its catalogue entry
declares ``needs_retain=False``, so :func:`lethe.unlearning.data_view` hands it
``data.retain = None``.

1. Diagonal Fisher F at θ* on the forget set D_f: the expected Fisher over
   y ~ p_θ*(y|x) (nngeometry's ``classif_logits`` variant in the code), computed by
   :func:`lethe.methodkit.fisher.diagonal_fisher` with the model in eval mode (the code
   puts BatchNorm in eval mode for it). ``fisher: "expected"`` (default) weights the
   per-class gradients by their probabilities, exactly as the code's estimator;
   ``"sampled"`` draws one label per sample (unbiased, one pass instead of C).
2. On minibatches B of D_f, minimise

       L(θ) = α·(−CE(θ; B)) + β·(θ−θ*)ᵀ diag(F) (θ−θ*) + γ·‖θ−θ*‖²

   (the code's ``alpha * negative_ce_loss + beta * pbu.penalty() + gamma * l2_loss``,
   with both penalties sums over all parameters, not means). Defaults: the MNIST
   notebook's Adam lr 1e-4, batch 64, up to 5 epochs, and its class-2 weights α = 631,
   β = 100, γ = 4001 (the notebook tunes α ∈ {631, 721}, β ∈ {90, 100} per class with
   Optuna; γ = 4001 throughout). The model is in train mode during these steps, as in
   the code (this matters only for BatchNorm, whose running statistics then move
   towards the forget data's).
3. Stopping. The −CE term is unbounded and the code's own output shows the collapse
   (class 2: retained accuracy 96.7 → 97.6 → 92.0 → 81.9 → 70.4 % over epochs 1–5); the
   paper selects the epoch. Lethe stops instead, after the first optimiser step at
   which the accuracy on D_f is at or below ``target_forget_acc``, resolved exactly as
   for NegGrad (:func:`lethe.methods.neggrad.forget_target`): ``"auto"`` is chance level
   1/C for class forgetting and the original model's accuracy on the validation split
   for random-sample forgetting; a number sets the target; None runs all epochs. The
   check is one batched forward pass over D_f per step (forget data only), inside the
   timed region. "auto" for random samples reads the validation split (to score the
   original), never D_r and never the test set.
4. Guard (Lethe's, :class:`lethe.methodkit.ascent.AscentGuard`). The target cannot fire
   when the ascent sends every prediction to one forgotten class (measured:
   Fashion-MNIST, six classes, accuracy on D_f stuck at 1/6 > 1/C for all 563 steps).
   Every step is also checked for non-finite weights and for a collapse, more than
   ``collapse_share`` (0.8) of D_f's predictions on one class, more than the original put
   there; either stops the run and returns the last weights that passed. PBU sees D_f
   only, so that is what the guard watches. On a single forgotten class D_f has one label,
   and the guard's collapse check is off (its module docstring says why); the target is
   the stop there. It
   has no retained-accuracy floor: PBU sees no retained data. ``check_every`` (1) spaces
   the checks as for NegGrad+.

Cost counters: ``steps`` are Adam steps; ``samples`` adds the Fisher's per-sample
gradient passes (C per forget sample for ``"expected"``, 1 for ``"sampled"``) to the
training samples. ``notes`` record the Fisher's trace and maximum (with the published
weights β·F_i is far below γ on digits' MLP, so the penalty is mostly the L2 anchor),
the resolved target, the epochs run, whether training stopped early, and ‖θ − θ*‖.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lethe.methodkit.ascent import AscentGuard
from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.fisher import diagonal_fisher
from lethe.methods.neggrad import forget_target
from lethe.models.registry import Classifier
from lethe.train import fit


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    if data.forget is None:
        raise ValueError("pbu needs the forget set (needs_forget=True in the catalogue)")
    fisher = diagonal_fisher(
        model, data.forget, labels=params["fisher"], batch_size=params["batch_size"], seed=ctx.seed
    )
    ctx.samples += len(data.forget) * (data.num_classes if params["fisher"] == "expected" else 1)
    anchor = {name: p.detach().clone() for name, p in model.named_parameters() if name in fisher}
    # β·F_i + γ: the two quadratic penalties pull every coordinate back to θ* with one weight.
    weight = {name: params["beta"] * f + params["gamma"] for name, f in fisher.items()}
    alpha = params["alpha"]

    def loss_fn(m: Classifier, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        penalty = sum(
            (weight[name] * (p - anchor[name]).pow(2)).sum() for name, p in m.named_parameters() if name in weight
        )
        return -alpha * F.cross_entropy(m(x), y) + penalty

    target = forget_target(params["target_forget_acc"], model, data)
    # PBU sees D_f alone, so the guard watches D_f for a collapse (see the module docstring).
    stop = AscentGuard(
        model,
        watch=data.forget,
        collapse_share=params["collapse_share"],
        seed=ctx.seed,
        forget=data.forget,
        target=target,
        check_every=params["check_every"],
    )
    result = fit(
        model,
        data.forget,
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        lr=params["lr"],
        optimizer="adam",
        seed=ctx.seed,
        loss_fn=loss_fn,
        stop=stop,
        stop_each="step",
        name="pbu",
        amp=ctx.amp,
    )
    stop.finish(model)
    ctx.count(result)
    moved = sum(
        (p.detach() - anchor[name]).pow(2).sum().item() for name, p in model.named_parameters() if name in anchor
    )
    ctx.notes.update(
        fisher=params["fisher"],
        fisher_trace=sum(f.sum().item() for f in fisher.values()),
        fisher_max=max(f.max().item() for f in fisher.values()),
        target_forget_acc=target,
        epochs_run=result.epochs,
        stopped_early=result.stopped_early,
        distance_to_original=moved**0.5,
        **stop.notes(),
    )
    return model
