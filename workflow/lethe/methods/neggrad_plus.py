"""NegGrad+: fine-tuning on D_r and gradient ascent on D_f in the same step.

Kurmanji, Triantafillou, Hayes and Triantafillou, "Towards Unbounded Machine
Unlearning", NeurIPS 2023 (the SCRUB paper), baseline NegGrad+; official code
``meghdadk/SCRUB`` (``thirdparty/repdistiller/helper/loops.py::train_negrad``, called
from ``small_scale_unlearning.ipynb``).

Each step zips one retain batch B_r with the next batch B_f of a cycled forget set and
minimises

    L = α·CE(θ; B_r) − (1 − α)·CE(θ; B_f)

with two forward passes (one per batch, as in the code, so BatchNorm normalises each
batch by its own statistics). An epoch is one pass over D_r; D_f is cycled as often as
needed. Defaults are the small-scale notebook's: α = 0.95, 10 epochs, plain SGD (no
momentum) with lr 0.01 and weight decay 0, retain batch 128 (the notebook's
``args.batch_size``) and forget batch 64 (``args.forget_bs``). The paper's large-scale
runs use α = 0.9999, 5 epochs; α must be tuned per setting.

Choices the code leaves open: ``itertools.cycle`` over a DataLoader replays the first
pass's order of forget batches; Lethe reshuffles D_f at every pass (seeded stream
``SeedSequence([seed, 1])``), so every pass sees new batch compositions.

Stopping is Lethe's: the paper has none, and the retain term does not bound the ascent
(measured on the Fashion-MNIST CNN: α 0.95-0.99 collapses it, α 0.999 barely ascends).
Every ``check_every``-th step (default 10: a check costs a forward pass over 1,024
validation images, and NegGrad+ takes a step per retain batch, so checking every step made it
7x slower than retraining on the Fashion-MNIST CNN) is checked by
:class:`lethe.methodkit.ascent.AscentGuard` on the validation split: non-finite weights, a
collapse (more than ``collapse_share``, 0.8, of its predictions on one class) or a retained
accuracy more than ``max_retained_drop`` (0.1) below the original's (measured: a collapse
check alone passed a CNN at 22 % retained accuracy) stop the run and return the last weights
that passed, so the α that forget can be used. The final weights are checked too. ``target_forget_acc`` (default None, as in the paper: run all
epochs) adds NegGrad's early stop: a number, or ``"auto"`` (1/C for classes, the
original's validation accuracy for random samples).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from lethe.data.tensors import index_batches
from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.passes import train_with
from lethe.methods.neggrad import forget_target, validation_guard
from lethe.models.registry import Classifier
from lethe.seeds import derived_seed


def cycled_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches over ``range(n)`` forever, reshuffled at every pass."""
    while True:
        yield from index_batches(n, batch_size, generator)


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    if data.forget is None or data.retain is None:
        raise ValueError("neggrad_plus needs the forget and the retain set")
    alpha = float(params["alpha"])
    forget = data.forget
    stream = torch.Generator().manual_seed(derived_seed(ctx.seed, 1))
    forget_batches = cycled_batches(len(forget), params["forget_batch_size"], stream)
    forget_seen = 0

    def loss_fn(m: Classifier, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal forget_seen
        index = next(forget_batches).to(forget.y.device)
        forget_seen += len(index)
        retain_loss = F.cross_entropy(m(x), y)
        forget_loss = F.cross_entropy(m(forget.x[index]), forget.y[index])
        return alpha * retain_loss - (1.0 - alpha) * forget_loss

    target = forget_target(params["target_forget_acc"], model, data)
    stop = validation_guard(model, data, params, ctx, target)
    result = train_with(model, data.retain, params, ctx, "neggrad_plus", loss_fn=loss_fn, stop=stop, stop_each="step")
    stop.finish(model)
    ctx.samples += forget_seen
    ctx.notes.update(
        forget_samples_seen=forget_seen,
        final_loss=result.history[-1]["loss"],
        target_forget_acc=target,
        epochs_run=result.epochs,
        stopped_early=result.stopped_early,
        **stop.notes(),
    )
    return model
