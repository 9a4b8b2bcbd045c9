"""Populations of unlearning runs: one method applied N times to the same original model,
run i from the seed ``run_seed(seed, i)``, for the distribution-level metrics of
:mod:`lethe.metrics.quality` (the challenge's ε and F, U-LiRA).

With ``originals`` (a function of the run index), run i starts from its own original
instead: the shadow originals of :mod:`lethe.populations.shadow`, for U-LiRA as Hayes et al. define it
(the attacker does not know which original a model came from).

A population of ``retrain`` is N models retrained from scratch on D_r from N seeds (the
gold standard's distribution); a population of ``retrain_twin`` is N more, from seeds of
its own stream, the null against which every other population's metrics are read. Every
run is :func:`lethe.unlearning.run_unlearning`, the same code path and data view as rule
``unlearn`` (only the seed differs), in one process: N runs cost N times the method, not N
process starts.

What is kept per run: φ on every forget example (LiRA's logit-scaled confidence of the
true label, :func:`lethe.metrics.predict.logit_confidence`), the accuracies on D_f, D_r
and the test samples of the retained classes (all test samples for random-sample
forgetting), the run's seconds and gradient steps, and whether it changed no weight of the
model it started from (``unchanged``, :func:`lethe.unlearning.weight_change`; None for a method
that starts from no model); the models themselves are not kept. When the first two runs return bit-identical weights the method is deterministic
(its unlearning draws nothing at random): the remaining runs would repeat them, so they are
not run, their rows copy the first run's, and the population says ``deterministic``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch

from lethe.data.forget_sets import retain_indices
from lethe.data.tensors import Dataset
from lethe.metrics.predict import logit_confidence, logits_accuracy
from lethe.metrics.predict import logits as model_logits
from lethe.seeds import derived_seed
from lethe.unlearning import run_unlearning

log = logging.getLogger(__name__)

STREAM = 7101  # the population runs' seed stream (lethe.seeds)


def run_seed(seed: int, i: int) -> int:
    """The seed of run ``i`` of a population drawn for the pipeline's ``seed``."""
    return derived_seed(seed, STREAM, i)


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run_population(
    method: str,
    original,
    dataset: Dataset,
    forget: dict,
    params: dict,
    *,
    arch: str,
    seed: int,
    n: int,
    device: torch.device,
    amp: bool | str = False,
    memory_format: str = "auto",
    batch_size: int = 1024,
    originals: Callable[[int], object] | None = None,
) -> dict:
    """N runs of ``method`` from ``original`` (from ``originals(i)`` for run i where given); returns ``phi`` (N × |D_f| float32),
    ``acc_forget``, ``acc_retain``, ``acc_test_retained`` (N each), ``seeds``, ``seconds``
    and ``steps`` (per run actually run), ``unchanged`` (N: the run changed no weight of its start, None where
    nothing compares), ``deterministic`` and ``wall_seconds``."""
    if n < 1:
        raise ValueError(f"population: n must be at least 1, got {n}")
    forget_idx = np.asarray(forget["indices"], dtype=np.int64)
    d_f = dataset.train.subset(forget_idx)
    d_r = dataset.train.subset(retain_indices(forget, len(dataset.train)))
    d_te = dataset.test.without_classes(forget["classes"])
    phi = np.empty((n, len(d_f)), dtype=np.float32)
    acc = {key: np.empty(n) for key in ("acc_forget", "acc_retain", "acc_test_retained")}
    seeds = [run_seed(seed, i) for i in range(n)]
    seconds, steps, unchanged = [], [], []
    deterministic, first = False, None
    started = time.perf_counter()
    for i, run in enumerate(seeds):
        if deterministic:
            phi[i] = phi[0]
            for values in acc.values():
                values[i] = values[0]
            unchanged.append(unchanged[0])
            continue
        start = original if originals is None else originals(i)
        model, record = run_unlearning(
            method,
            start,
            dataset,
            forget,
            params,
            arch=arch,
            seed=run,
            device=device,
            amp=amp,
            memory_format=memory_format,
        )
        seconds.append(record["seconds"])
        steps.append(record["steps"])
        unchanged.append(record["weights"]["unchanged"])
        z_f = model_logits(model, d_f, batch_size, amp)
        phi[i] = logit_confidence(z_f, d_f.y.cpu()).astype(np.float32)
        acc["acc_forget"][i] = logits_accuracy(z_f, d_f.y)
        acc["acc_retain"][i] = logits_accuracy(model_logits(model, d_r, batch_size, amp), d_r.y)
        acc["acc_test_retained"][i] = logits_accuracy(model_logits(model, d_te, batch_size, amp), d_te.y)
        if i == 0:
            first = _state(model)
        elif i == 1 and _same_weights(first, _state(model)):
            deterministic = True
            log.info("%s: runs 0 and 1 returned identical weights; the method is deterministic", method)
        if (i + 1) % max(1, n // 8) == 0 or i + 1 == n:
            log.info(
                "population of %s on %s: %d/%d runs (%.1fs)",
                method,
                forget["id"],
                i + 1,
                n,
                time.perf_counter() - started,
            )
    return {
        "phi": phi,
        **acc,
        "seeds": seeds,
        "seconds": seconds,
        "steps": steps,
        "unchanged": unchanged,
        "deterministic": deterministic,
        "wall_seconds": time.perf_counter() - started,
    }
