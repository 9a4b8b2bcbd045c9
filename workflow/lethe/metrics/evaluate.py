"""Evaluate one model against one forget set (one JSON per model).

One forward pass per split: the penultimate features of the training and test sets are
computed once (batched), the logits are the output layer applied to them, and every
metric below reuses them (except relearning, which trains a copy of the model).

Accuracies (fractions in [0, 1]):

* ``acc_forget``: training samples of the forget set (D_f);
* ``acc_retain``: the other training samples (D_r);
* ``acc_test``: the whole test set;
* ``acc_test_retained`` / ``acc_test_forgotten``: test samples of the retained /
  forgotten classes (class forgetting; for random-sample forgetting the forgotten-class
  split does not exist and ``acc_test_retained`` equals ``acc_test``);
* each with ``_lo`` and ``_hi``, Wilson's 95 % interval of the proportion over the samples it
  is measured on (what the samples alone leave uncertain about this one model);
* ``confusion_test``: the test confusion matrix;
* ``relearn_curve``: accuracy on the scored forget samples before relearning and after
  each relearn epoch (None where relearning did not run); a list, so it sits beside
  ``metrics`` rather than in it; ``lira_roc`` likewise holds LiRA's ROC curves (None
  without reference models).

Forgetting versus hiding (each family documented in its module):

* membership inference, every variant named (:mod:`lethe.metrics.mia`), and the per-example
  likelihood-ratio attack calibrated on reference models (:mod:`lethe.metrics.lira`);
* the linear probe of the penultimate features (:mod:`lethe.metrics.probe`);
* relearn time on part of D_f until the original's forget accuracy returns
  (:mod:`lethe.metrics.relearn`);
* distance to the retrained model on D_f and ZRF against a randomly initialised model
  (:mod:`lethe.metrics.distance`).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from lethe.data.tensors import Dataset
from lethe.device import synchronize
from lethe.metrics.accuracy import accuracy, confusion_matrix
from lethe.metrics.distance import distance_metrics, probabilities
from lethe.metrics.intervals import wilson
from lethe.metrics.lira import lira_metrics
from lethe.metrics.mia import membership_metrics
from lethe.metrics.predict import features_and_logits
from lethe.metrics.predict import logits as model_logits
from lethe.metrics.probe import probe_metrics
from lethe.metrics.relearn import relearn_time
from lethe.models.registry import Classifier

DEFAULT_SETTINGS = {"mia_samples": 1000, "forget_samples": 5000, "relearn": {}, "probe": {}, "reference_models": 0}


def capped(indices: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """``indices``, or a sorted random subset of ``cap`` of them (drawn from ``seed``) when there are more."""
    indices = np.asarray(indices, dtype=np.int64)
    if cap is None or len(indices) <= int(cap):
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, size=int(cap), replace=False))


def accuracy_metrics(dataset: Dataset, forget: dict, pred_train: np.ndarray, pred_test: np.ndarray) -> dict:
    y_train = dataset.train.y.cpu().numpy()
    y_test = dataset.test.y.cpu().numpy()
    in_forget = np.zeros(len(y_train), dtype=bool)
    in_forget[np.asarray(forget["indices"], dtype=np.int64)] = True
    if forget["classes"] is not None:
        test_forgotten = np.isin(y_test, forget["classes"])
    else:
        test_forgotten = np.zeros(len(y_test), dtype=bool)
    groups = {
        "acc_forget": (y_train[in_forget], pred_train[in_forget]),
        "acc_retain": (y_train[~in_forget], pred_train[~in_forget]),
        "acc_test": (y_test, pred_test),
        "acc_test_retained": (y_test[~test_forgotten], pred_test[~test_forgotten]),
        "acc_test_forgotten": (y_test[test_forgotten], pred_test[test_forgotten]),
    }
    out = {}
    for key, (y, pred) in groups.items():
        out[key] = accuracy(y, pred)
        lo, hi = (None, None) if out[key] is None else wilson(out[key], len(y))
        out[f"{key}_lo"], out[f"{key}_hi"] = lo, hi
    return out


def evaluate_model(
    model: Classifier,
    dataset: Dataset,
    forget: dict,
    batch_size: int = 1024,
    *,
    seed: int = 0,
    original: Classifier | None = None,
    retrain: Classifier | None = None,
    random: Classifier | None = None,
    reference: dict | None = None,
    settings: dict | None = None,
    full: bool = True,
    amp: bool | str = False,
) -> dict:
    """Metrics of ``model`` for ``forget``, and the evaluation's own time.

    ``original`` gives the relearn target (its forget accuracy); ``retrain`` and
    ``random`` (a randomly initialised model of the same architecture) are the
    references of the distance metrics. ``full=False`` computes accuracies only.
    A model whose outputs are not finite gets accuracies and ``outputs_finite = 0``
    only. ``settings``: ``mia_samples``, ``forget_samples`` (at most this many forget
    samples, drawn from ``seed``, are scored by the distance metrics), ``relearn`` (overrides of
    :data:`lethe.metrics.relearn.DEFAULT_RELEARN`) and ``probe`` (keyword arguments of
    :func:`lethe.metrics.probe.probe_metrics`). ``amp``: mixed precision of the forward
    passes and of the relearn fine-tuning (:mod:`lethe.device`); logits, features and
    every metric computed from them are float32.
    """
    settings = {**DEFAULT_SETTINGS, **(settings or {})}
    device = next(model.parameters()).device
    synchronize(device)
    started = time.perf_counter()
    f_train, z_train = features_and_logits(model, dataset.train, batch_size, amp)
    f_test, z_test = features_and_logits(model, dataset.test, batch_size, amp)
    pred_train, pred_test = z_train.argmax(1).numpy(), z_test.argmax(1).numpy()
    metrics = accuracy_metrics(dataset, forget, pred_train, pred_test)
    # A method can destroy the model (gradient ascent diverging to NaN weights): its
    # accuracies are still reported, but the attacks and probes cannot fit on NaN outputs.
    finite = bool(torch.isfinite(z_train).all() and torch.isfinite(z_test).all())
    metrics["outputs_finite"] = float(finite)
    timings = {}

    if full and finite:
        forget_idx = torch.as_tensor(np.asarray(forget["indices"], dtype=np.int64))

        def timed(name, fn):
            t0 = time.perf_counter()
            metrics.update(fn())
            synchronize(device)
            timings[name] = time.perf_counter() - t0

        timed("mia", lambda: membership_metrics(None, dataset, forget, z_train, z_test, seed, settings["mia_samples"]))
        if reference is not None:
            y_train, y_test = dataset.train.y.cpu().numpy(), dataset.test.y.cpu().numpy()
            timed("lira", lambda: lira_metrics(z_train, z_test, y_train, y_test, forget, reference, seed))
        timed(
            "probe",
            lambda: probe_metrics(
                model, dataset, forget, seed, batch_size, precomputed=(f_train, f_test), **settings["probe"]
            ),
        )

        # The distances compare this model with retrain and the random model on D_f, which
        # costs two more forward passes over it: at most forget_samples of D_f are scored.
        scored = torch.as_tensor(capped(forget_idx.numpy(), settings["forget_samples"], seed))

        def distances():
            forget_split = dataset.train.subset(scored)
            probs = probabilities(z_train[scored])
            ref = {
                name: None if other is None else probabilities(model_logits(other, forget_split, batch_size, amp))
                for name, other in (("retrain", retrain), ("random", random))
            }
            return distance_metrics(probs, ref["retrain"], ref["random"])

        timed("distance", distances)
        if original is not None:
            # The relearnt model's retain accuracy is a collapse check: a sample is enough.
            retain_idx = capped(np.setdiff1d(np.arange(len(dataset.train)), forget_idx.numpy()), 5000, seed)
            timed(
                "relearn",
                lambda: relearn_time(
                    model,
                    dataset.train.subset(forget_idx),
                    original,
                    settings["relearn"],
                    seed,
                    retain_split=dataset.train.subset(retain_idx),
                    amp=amp,
                ),
            )
    synchronize(device)
    curve = metrics.pop("relearn_curve", None)
    roc = metrics.pop("lira_roc", None)
    return {
        "metrics": metrics,
        "lira_roc": roc,
        "confusion_test": confusion_matrix(dataset.test.y.cpu().numpy(), pred_test, dataset.num_classes).tolist(),
        "relearn_curve": curve,
        "eval_seconds": time.perf_counter() - started,
        "eval_seconds_by_family": timings,
    }


def cost_metrics(run: dict | None, retrain_run: dict | None) -> dict:
    """Unlearning time, gradient steps, the time ratio to retraining, and how far the method
    moved the weights it started from (``weight_change``: ‖θ − θ₀‖ / ‖θ₀‖; ``unchanged``: 1
    when no weight moved, so the run's metrics are its start model's; None where the method
    starts from no model; ``diverged``: 1 when the returned weights are not finite). A run record without the
    weight measurements gives None."""
    if run is None:  # the original model: no unlearning happened
        return {
            "unlearn_seconds": None,
            "unlearn_steps": None,
            "time_ratio_to_retrain": None,
            "weight_change": None,
            "unchanged": None,
            "diverged": None,
        }
    weights = run.get("weights") or {}
    unchanged, diverged = weights.get("unchanged"), weights.get("diverged")
    ratio = None
    if retrain_run is not None and retrain_run["seconds"] > 0:
        ratio = run["seconds"] / retrain_run["seconds"]
    return {
        "unlearn_seconds": run["seconds"],
        "unlearn_steps": run["steps"],
        "time_ratio_to_retrain": ratio,
        "weight_change": weights.get("relative_distance"),
        "unchanged": None if unchanged is None else float(unchanged),
        "diverged": None if diverged is None else float(diverged),
    }
