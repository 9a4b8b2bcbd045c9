"""NegGrad / gradient ascent (GA) on the forget set.

Minimises −CE(θ; D_f) (Golatkar et al. 2020; Jia et al. 2023's ``unlearn/GA.py``):
defaults are that code's SGD, momentum 0.9, weight decay 5e-4, lr 1e-4, 5 epochs,
batch 256. The loss is unbounded and, at learning rates that forget at all, the
collapse is abrupt (on digits the retained-class accuracy falls from 0.98 to 0.4 within
one epoch), so the method stops early: after the first optimiser step at which the
accuracy on the forget set is at or below ``target_forget_acc``. ``"auto"`` (the
default) targets what the retrained model would score: chance level 1/C for class
forgetting (it never saw those classes), and the original model's accuracy on the
validation split for random-sample forgetting (forgotten samples should look like unseen
ones; the test set is the evaluation's and never seen). A number
sets the target; None disables early stopping. The check is one batched forward pass
over D_f per step and counts in the method's time. The retain set is never seen.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lethe.data.tensors import Split
from lethe.methodkit.base import Context, UnlearningData
from lethe.models.registry import Classifier
from lethe.train import accuracy, fit


def negative_cross_entropy(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -F.cross_entropy(model(x), y)


def forget_target(target: float | str | None, model: Classifier, data: UnlearningData) -> float | None:
    """Resolve ``target_forget_acc`` (see the module docstring)."""
    if target != "auto":
        return None if target is None else float(target)
    if data.forget_classes is not None:
        return 1.0 / data.num_classes
    return accuracy(model, data.validation)


MONITOR_SAMPLES = 1024


def forget_stop(target: float | None, forget: Split, seed: int):
    """The per-step early-stop check: accuracy on (at most 1,024 of) D_f ≤ ``target``.

    The check runs after every optimiser step, so on a large forget set (36,000
    Fashion-MNIST images for 6 classes) evaluating all of D_f would cost more than the
    method itself; a fixed random subset of 1,024 samples (drawn with the run's seed)
    estimates the accuracy to within about ±3 points. Forget sets up to that size (every
    digits forget set) are checked whole.

    The check also stops a run whose weights are no longer finite: gradient ascent can
    diverge before it reaches the target (measured: Fashion-MNIST, 6 forgotten classes,
    where the collapsed model predicts one forgotten class and scores 1/6 > 1/C on D_f),
    and every further step would only spend time on a destroyed model.
    """
    if target is None:
        return None
    monitor = forget
    if len(forget) > MONITOR_SAMPLES:
        rng = np.random.default_rng([seed, 11])
        monitor = forget.subset(np.sort(rng.choice(len(forget), size=MONITOR_SAMPLES, replace=False)))

    def stop(model) -> bool:
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            return True
        return accuracy(model, monitor) <= target

    return stop


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    target = forget_target(params["target_forget_acc"], model, data)
    ctx.notes["target_forget_acc"] = target
    stop = forget_stop(target, data.forget, ctx.seed)
    result = fit(
        model, data.forget,
        epochs=params["epochs"], batch_size=params["batch_size"], lr=params["lr"],
        optimizer=params["optimizer"], momentum=params["momentum"],
        weight_decay=params["weight_decay"], seed=ctx.seed,
        loss_fn=negative_cross_entropy, stop=stop, stop_each="step", name="neggrad", amp=ctx.amp,
    )  # fmt: skip
    ctx.count(result)
    ctx.notes["epochs_run"] = result.epochs
    ctx.notes["stopped_early"] = result.stopped_early
    return model
