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
sets the target; None disables the target. The check is one batched forward pass
over (at most 1,024 images of) D_f per step and counts in the method's time.

The target does not catch every failure: the ascent can diverge, or send every image to
one class, before D_f's accuracy reaches it (measured: Fashion-MNIST, six forgotten
classes, where the collapsed model predicts one forgotten class and scores 1/6 > 1/C on
D_f). So every step (every ``check_every``-th, default 1) is also checked by
:class:`lethe.methodkit.ascent.AscentGuard`: non-finite weights, more than ``collapse_share``
(0.8) of the validation split's predictions on one class, or an accuracy on its images of the
retained classes more than ``max_retained_drop`` (0.1) below the original's, stop the run and
return the last weights that passed every check. The run record's notes say why it stopped (``stop_reason``) and which step's
weights it returns (``restored_step``). The retain set is never seen.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lethe.methodkit.ascent import AscentGuard
from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.passes import train_with
from lethe.models.registry import Classifier
from lethe.train import accuracy


def negative_cross_entropy(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -F.cross_entropy(model(x), y)


def forget_target(target: float | str | None, model: Classifier, data: UnlearningData) -> float | None:
    """Resolve ``target_forget_acc`` (see the module docstring)."""
    if target != "auto":
        return None if target is None else float(target)
    if data.forget_classes is not None:
        return 1.0 / data.num_classes
    return accuracy(model, data.validation)


def validation_guard(
    model: Classifier, data: UnlearningData, params: dict, ctx: Context, target: float | None
) -> AscentGuard:
    """The ascent guard of a method that may see the validation split: it watches that split
    for a collapse and a drop in retained accuracy, and D_f for ``target``."""
    if len(data.validation) == 0:
        raise ValueError(
            "the ascent guard watches the validation split for a collapse, and the dataset has none: "
            "set data.validation above 0 (the default is 0.1) and rerun"
        )
    return AscentGuard(
        model,
        watch=data.validation,
        collapse_share=params["collapse_share"],
        seed=ctx.seed,
        forget=data.forget,
        target=target,
        check_every=params["check_every"],
        max_retained_drop=params["max_retained_drop"],
        forget_classes=data.forget_classes,
    )


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    target = forget_target(params["target_forget_acc"], model, data)
    ctx.notes["target_forget_acc"] = target
    stop = validation_guard(model, data, params, ctx, target)
    result = train_with(
        model, data.forget, params, ctx, "neggrad", loss_fn=negative_cross_entropy, stop=stop, stop_each="step"
    )
    stop.finish(model)
    ctx.notes.update(epochs_run=result.epochs, stopped_early=result.stopped_early, **stop.notes())
    return model
