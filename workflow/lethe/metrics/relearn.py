"""Relearn time R_t: how fast does fine-tuning on a little of D_f bring the forgotten knowledge back?

Definition: the relearn time reported by the impair–repair paper ("Fast and Accurate
Class-Level MU using Impair–Repair and Noise-Induced Forgetting"): fine-tune the unlearned model on forget-set data and count the epochs until
its accuracy on the forget set reaches the original model's. The Anamnesis Index of
Chundawat et al. (zero-shot machine unlearning) divides it by the retrained model's
relearn time (compute it from two results of this function). A model that only *hid*
the forget set (e.g. zero_output, whose hidden layers are untouched) relearns faster
than one that never knew it (retrain).

The papers leave the recipe open; Lethe fixes it (every value is a key of
:data:`DEFAULT_RELEARN`, overridable through ``params``):

* **Relearn data:** a random ``fraction`` (default 10 %) of D_f, at least one sample, or
  ``count`` samples when ``count`` is given; drawn from ``seed`` (NumPy
  ``default_rng(seed)``). The rest of D_f is held out.
* **Evaluation:** top-1 accuracy on the *held-out rest* of D_f (``evaluate_on="heldout"``,
  the default), so that the count measures knowledge coming back rather than the
  relearn samples being memorised; ``"all"`` evaluates on all of D_f as the D paper's
  wording suggests. Measured before any step and after every epoch, on at most
  ``max_eval`` (default 2,000) of those samples, drawn from ``seed``: six forgotten
  Fashion-MNIST classes leave 32,400 held-out images, and scoring all of them after
  every epoch made relearning three quarters of a 250-second evaluation. ``None``
  scores them all.
* **Target:** ``target_acc`` (pass the original model's accuracy on D_f, ``acc_forget``)
  minus ``tolerance`` (default 0.02: one or two samples of a digits class). A model that
  already meets it needs 0 epochs (R_t = 0, e.g. the original model itself).
* **Optimiser:** Adam, lr 1e-3, batch 32, no weight decay, cross-entropy, shuffled
  mini-batches seeded by ``seed``; at most ``max_epochs`` (default 50) epochs. The model
  is a deep copy: the caller's model is never changed. The copy is trained in train mode
  (BatchNorm statistics move, as in any fine-tuning) and evaluated in eval mode.

Reported: ``relearn_epochs`` (epochs run; the cap when not reached), ``relearn_steps``
(optimiser steps), ``relearn_reached`` (bool), the accuracies before and after
(``relearn_acc_start``, ``relearn_acc_end``), the target actually used
(``relearn_target``) and the sample counts (``relearn_n_train``, ``relearn_n_eval``).
``relearn_curve`` is the accuracy on the scored samples before relearning and after each
epoch (length ``relearn_epochs + 1``); it is a list, so :mod:`lethe.metrics.evaluate`
keeps it beside the scalar metrics, for the relearn-curve figure.
With ``retain_split`` (D_r, optional) also ``relearn_acc_retain_end``, the relearnt
model's accuracy on D_r.

What the number can and cannot say. Fine-tuning on forget samples alone (all of one
class, for class forgetting) can reach the target by collapse: raising the class's bias
until every image is predicted as that class. A randomly initialised MLP "relearns"
digits class 3 in 3 to 6 epochs that way (accuracy on D_r afterwards: 0.00 to 0.01),
faster than the retrained model (28 to 30 epochs). R_t therefore ranks models that kept
a usable class output (original 0, finetune 2, zero_output 9 to 12, neggrad 11 to 13
epochs on digits, seeds 0-2) against models whose class output was pushed down
(retrain 28 to 30; UNSIR and FNN over the 50-epoch cap), and ``relearn_acc_retain_end``
shows whether the target was met by collapse. With Adam at lr 1e-3 zero_output needs
about ten steps to grow its zeroed output row back, so it does not relearn "within an
epoch or two" here; at lr 1e-2 it does (1 epoch against retrain's 3, seed 0), with
less resolution between methods. One epoch is ``ceil(n_train / batch_size)`` steps (one
step for digits' 14 relearn samples), so compare steps across datasets, not epochs.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from lethe.data.tensors import Split
from lethe.models.registry import Classifier
from lethe.train import accuracy, fit

DEFAULT_RELEARN = {
    "fraction": 0.1,
    "count": None,
    "evaluate_on": "heldout",
    "tolerance": 0.02,
    "optimizer": "adam",
    "lr": 1e-3,
    "batch_size": 32,
    "max_epochs": 50,
    "max_eval": 2000,
    "momentum": 0.9,
    "weight_decay": 0.0,
}
EVALUATE_ON = ("heldout", "all")


def relearn_params(params: dict | None = None) -> dict:
    """:data:`DEFAULT_RELEARN` updated with ``params``; unknown keys are an error."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULT_RELEARN))
    if unknown:
        raise ValueError(f"relearn_time: unknown parameters {unknown}; known: {sorted(DEFAULT_RELEARN)}")
    merged = {**DEFAULT_RELEARN, **params}
    if merged["max_eval"] is not None and int(merged["max_eval"]) < 1:
        raise ValueError(f"relearn_time: max_eval must be at least 1 or None, got {merged['max_eval']!r}")
    if merged["evaluate_on"] not in EVALUATE_ON:
        raise ValueError(f"relearn_time: evaluate_on must be one of {EVALUATE_ON}, got {merged['evaluate_on']!r}")
    return merged


def relearn_split(forget_split: Split, params: dict, seed: int) -> tuple[Split, Split]:
    """(relearn samples, evaluation samples) of D_f under ``params`` (see the module docstring)."""
    n = len(forget_split)
    if n < 2 and params["evaluate_on"] == "heldout":
        raise ValueError(f"relearn_time: a held-out evaluation needs at least 2 forget samples, got {n}")
    if params["count"] is not None:
        count = int(params["count"])
    else:
        count = max(1, int(round(float(params["fraction"]) * n)))
    limit = n - 1 if params["evaluate_on"] == "heldout" else n
    if not 0 < count <= limit:
        raise ValueError(f"relearn_time: {count} relearn samples out of {n} forget samples (must be 1..{limit})")
    rng = np.random.default_rng(seed)
    chosen = np.zeros(n, dtype=bool)
    chosen[rng.choice(n, size=count, replace=False)] = True
    train = forget_split.subset(np.flatnonzero(chosen))
    scored = np.flatnonzero(~chosen) if params["evaluate_on"] == "heldout" else np.arange(n)
    cap = params["max_eval"]
    if cap is not None and len(scored) > int(cap):
        scored = np.sort(rng.choice(scored, size=int(cap), replace=False))
    return train, forget_split.subset(scored)


def relearn_time(
    model: Classifier,
    forget_split: Split,
    target_acc: float | Classifier,
    params: dict | None,
    seed: int,
    *,
    retain_split: Split | None = None,
    amp: bool | str = False,
) -> dict:
    """Relearn time of ``model`` on ``forget_split`` (D_f, on the model's device); see the module docstring.

    ``target_acc``: the original model's accuracy on D_f (a fraction), or the original
    model itself, whose accuracy on the very samples scored here is then the target (the
    two sides of the comparison measured alike). ``params``:
    overrides of :data:`DEFAULT_RELEARN` (None for the defaults). ``retain_split``: D_r,
    only to report the relearnt model's retain accuracy. ``model`` is not modified.
    ``amp``: mixed precision of the fine-tuning (:func:`lethe.train.fit`); the
    accuracies are measured in float32.
    """
    params = relearn_params(params)
    train, evaluate = relearn_split(forget_split, params, seed)
    if isinstance(target_acc, torch.nn.Module):
        target_acc = accuracy(target_acc, evaluate)
    target = float(target_acc) - float(params["tolerance"])
    student = copy.deepcopy(model)
    start = accuracy(student, evaluate)
    record = {
        "relearn_epochs": 0,
        "relearn_steps": 0,
        "relearn_reached": True,
        "relearn_acc_start": start,
        "relearn_acc_end": start,
        "relearn_target": target,
        "relearn_n_train": len(train),
        "relearn_n_eval": len(evaluate),
        "relearn_acc_retain_end": None,
        "relearn_curve": [start],
    }
    if start < target:
        _relearn(student, train, evaluate, target, params, seed, record, amp)
    if retain_split is not None:
        record["relearn_acc_retain_end"] = accuracy(student, retain_split)
    return record


def _relearn(
    student: Classifier,
    train: Split,
    evaluate: Split,
    target: float,
    params: dict,
    seed: int,
    record: dict,
    amp: bool | str = False,
):
    """Fine-tune ``student`` in place until its accuracy on ``evaluate`` reaches ``target``; fill ``record``."""
    last = {"acc": record["relearn_acc_start"]}

    def reached(m) -> bool:
        last["acc"] = accuracy(m, evaluate)
        record["relearn_curve"].append(last["acc"])
        return last["acc"] >= target

    result = fit(
        student,
        train,
        epochs=int(params["max_epochs"]),
        batch_size=int(params["batch_size"]),
        lr=float(params["lr"]),
        optimizer=params["optimizer"],
        momentum=float(params["momentum"]),
        weight_decay=float(params["weight_decay"]),
        seed=seed,
        stop=reached,
        name="relearn",
        amp=amp,
    )
    record.update(
        relearn_epochs=result.epochs,
        relearn_steps=result.steps,
        relearn_reached=bool(result.stopped_early),
        relearn_acc_end=last["acc"],
    )


def anamnesis_index(relearn_epochs: float | None, retrain_relearn_epochs: float | None) -> float | None:
    """Anamnesis Index (Chundawat et al., zero-shot MU): R_t of a model over R_t of the retrained model.

    Near 1: relearns like a model that never saw the data; near 0: the knowledge was
    only hidden. None where either is missing or retrain's R_t is 0.
    """
    if relearn_epochs is None or not retrain_relearn_epochs:
        return None
    return float(relearn_epochs) / float(retrain_relearn_epochs)
