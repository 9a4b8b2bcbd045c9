"""SCRUB+R: SCRUB, then rewind to the epoch whose D_f error matches held-out data like D_f.

Kurmanji, Triantafillou, Hayes and Triantafillou, "Towards Unbounded Machine
Unlearning", NeurIPS 2023, the privacy variant of SCRUB for forgetting samples; official
code ``meghdadk/SCRUB``, where the rewind lives in the notebooks only: canonical in
``MIA_experiments.ipynb`` (function ``scrub``), repeated in ``resnet50_cifar100.ipynb``,
varied in ``VGG_experiments.ipynb`` and ``BadT_experiments.ipynb``. The training is
SCRUB's, run by :func:`lethe.methods.scrub.scrub_epochs` (its module docstring describes
the max- and min-steps, the loss and the learning-rate schedule); this module adds:

* Forget-validation set: the validation split (``data.validation``, carved from the
  training images and held out of every model's training, like the notebooks'
  ``valid_set``: 20 % of each training class there, ``data.validation`` of each here)
  restricted to the samples whose label is among the labels present in D_f. For a random
  sample that is usually the whole split; for a class, its held-out images. Empty
  (no validation split, or none of D_f's labels in it): ``ValueError``.
* Per-epoch log: the D_f error (1 − top-1 accuracy, eval mode) of the starting model θ*
  (epoch 0) and of the model after every epoch k = 1..E, and a CPU copy of the weights
  after every epoch (the notebook's ``…_step{k}.pt``).
* Reference: the error of the *final* model (after E epochs) on the forget-validation set:
  what D_f's error would be if D_f were unseen data, as judged by SCRUB's own end point.
* Rewind: the checkpoint k in 1..E minimising |err_f(k) − reference|, the first on ties;
  its weights are loaded and returned (the final model itself when k = E).

Choices and deviations:

* Epoch 0, the original, is measured but is not a candidate. The canonical notebook's
  argmin runs over 0..E and could pick it, but it saves no ``step0`` checkpoint, so
  loading it would fail; ``VGG_experiments.ipynb`` saves one and forces a pick of 0 to 1.
  Lethe's argmin over 1..E agrees with the VGG rule except when θ* is the unique closest
  (the VGG rule then returns epoch 1, Lethe the closest of 1..E).
  ``BadT_experiments.ipynb``'s rule (the first epoch whose error *exceeds* the reference)
  is not implemented.
* The notebooks log the retain and full-validation errors too (and the forget-validation
  error of every epoch); the rule reads only the D_f errors and the final reference, so
  only those are measured. They are part of the method and run inside the timed region.
* Errors are fractions (the notebooks' 100 − accuracy in per cent: the same argmin).
* Defaults: the MIA notebook's, which differ from SCRUB's (Lethe's ``scrub`` follows the
  small-scale notebook): SGD lr 5e-4, momentum 0.9, weight decay 5e-4, 5 epochs, msteps
  3, τ = 4, γ = 1, α = 0.5, decay ×0.1 after epochs 3, 5 and 9, retain batch 32, forget
  batch 16. The notebook's β = 0 (no extra loss term) is SCRUB's loss as implemented.

Known limits:

* The error is a coarse signal: with D_f fitted at 100 % and unseen data at a few per
  cent, SCRUB must misclassify forget samples before the rule can tell checkpoints
  apart. While every epoch leaves D_f error at 0 (or at any common value), every
  checkpoint ties and the rule returns epoch 1, the checkpoint that moved least, even
  when the later epochs shifted the forget loss further.
* When SCRUB never brings D_f's error up to the reference, the rule returns the first
  epoch that reaches the largest D_f error: it rewinds to the earliest epoch that
  forgot as much, by this count, as the final one.
* All E checkpoints are held in CPU memory until the end (E copies of the weights).
* The rule cannot see a broken model. Measured on Fashion-MNIST's T-shirt class (small
  CNN, seeds 0-2, the MIA defaults with retain batch 128): the 338 max-steps an epoch
  (6,000 forget images in batches of 16) drove SCRUB's weights to NaN in epoch 1 on every
  seed; a model that predicts the forgotten class everywhere has D_f error 0, the same as
  the final model's forget-validation error, and epoch 1 is returned (acc_forget 1.000,
  retained accuracy 0.000). The run record's ``weights.diverged`` and the tables' × mark
  say so.

Measured on digits (MLP, seed 0, CPU, one thread; ``tests/methods/test_scrub_r.py`` has the
table). At the MIA defaults SCRUB+R does nothing measurable: SGD at lr 5e-4 from θ*
barely leaves the teacher (at θ* the student's output is the teacher's, so the
max-step's gradient, of −KL, is zero; the last KL on D_f is 3·10⁻⁵ on random 10 %), D_f's
error stays 0 at every epoch, the rule returns epoch 1, and the forget/test loss ratio
is the original's (0.159 against 0.159; retrain 0.565). On class 3 likewise (epoch 1,
ratio 0.21 against 0.19, acc_forget 1.000), although SCRUB's final epoch had moved the
ratio to 0.41: the tie rewinds that away. No SGD learning rate of the MIA recipe
forgets random 10 % cleanly: up to 1e-2 D_f's error stays 0 and the rule returns epoch
1; 1.5e-2 and 2e-2 leave the loss ratio at 0.27 and 0.37 for 2 points of test accuracy;
2.5e-2 reaches 0.69 for 8 points; 3e-2 wrecks the model. With SCRUB's
small-scale setting (the tests' ``scrub`` settings: Adam, weight decay 0.1, 10 epochs,
msteps 5, τ = 2, forget batch 64) D_f's error climbs and the rewind bites: random 10 %
rewinds to epoch 6 of 10 (D_f error 0.017 from epoch 6 on, reference 0.037; ratio
0.744, test accuracy 0.973); class 3 to epoch 4 (D_f error 1.0 from epoch 4 on,
reference 1.0; acc_forget 0.000, retained test accuracy 0.975). Seeds 1 and 2 (their
own originals): random 10 % epochs 5 and 6, class 3 epochs 5 and 4. Cost: 199 steps
(random 10 %) and 194 (class 3) at the defaults, 0.1 s; 360 and 350 with SCRUB's
setting, 0.2 s. On a small BatchNorm CNN (``tests/methods/test_batchnorm.py``'s bnnet, class 3)
the defaults do move the model: D_f's error runs 0.02, 0.04, 0.24, 0.63, 0.50, 0.54 over
epochs 0..5, the reference is 0.50 and the rule returns epoch 4 (acc_forget 0.50,
retained test accuracy 0.968 against 0.970).

Cost: as SCRUB's (``steps`` and ``samples`` of every epoch, E of them whatever the
checkpoint returned: the reference needs the whole run); the error measurements are
forward passes without gradients, timed but not counted in ``samples``. ``notes`` add
to SCRUB's the D_f error of epochs 0..E (``forget_error_per_epoch``), the reference
(``reference_forget_validation_error``), the size of the forget-validation set
(``forget_validation_size``) and the returned epoch (``chosen_epoch``).
"""

from __future__ import annotations

import torch

from lethe.data.tensors import Split
from lethe.methodkit.base import Context, UnlearningData
from lethe.methods.scrub import scrub_epochs
from lethe.models.registry import Classifier
from lethe.train import accuracy


def forget_validation(data: UnlearningData) -> Split:
    """The validation samples whose label is among the labels present in D_f (the notebooks' ``valid_dl_forget``)."""
    labels = torch.unique(data.forget.y).to(data.validation.y.device)
    return data.validation.mask(torch.isin(data.validation.y, labels))


def error(model: torch.nn.Module, split: Split) -> float:
    """1 − top-1 accuracy of ``model`` on ``split`` in eval mode (the notebooks' ``100 − acc``, as a fraction)."""
    return 1.0 - accuracy(model, split)


def rewind_epoch(forget_errors: list[float], reference: float) -> int:
    """The epoch k in 1..E whose D_f error is closest to ``reference`` (the first on ties).

    ``forget_errors[k]`` is the D_f error after k epochs; entry 0, the original model, is
    measured but never a candidate (see the module docstring).
    """
    if len(forget_errors) < 2:
        raise ValueError("scrub_r: no epoch to rewind to (epochs must be at least 1)")
    gaps = [abs(e - reference) for e in forget_errors[1:]]
    return 1 + gaps.index(min(gaps))


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    if data.forget is None or data.retain is None:
        raise ValueError("scrub_r needs the forget and the retain set")
    if int(params["epochs"]) < 1:
        raise ValueError(f"scrub_r: epochs must be at least 1 (got {params['epochs']}): it rewinds to one of them")
    held_out = forget_validation(data)
    if len(held_out) == 0:
        present = sorted(int(c) for c in torch.unique(data.forget.y))
        raise ValueError(
            f"scrub_r: the validation split has no sample of the forget set's labels {present} "
            f"({len(data.validation)} validation samples), and its rewind measures the final model on them; "
            "set data.validation above 0 (the default is 0.1) or use scrub"
        )
    forget_errors: list[float] = []
    checkpoints: dict[int, dict[str, torch.Tensor]] = {}

    def record(epoch: int, current: Classifier) -> None:
        forget_errors.append(error(current, data.forget))
        if epoch > 0:
            checkpoints[epoch] = {k: v.detach().to("cpu", copy=True) for k, v in current.state_dict().items()}

    model = scrub_epochs(model, data, params, ctx, on_epoch=record, name="scrub_r")
    reference = error(model, held_out)
    chosen = rewind_epoch(forget_errors, reference)
    model.load_state_dict(checkpoints[chosen])
    model.eval()
    ctx.notes.update(
        forget_error_per_epoch=forget_errors,
        reference_forget_validation_error=reference,
        forget_validation_size=len(held_out),
        chosen_epoch=chosen,
    )
    return model
