"""Hyperparameter search for one unlearning method, scored on data the evaluation never sees.

A search starts from an original model, a forget set and the model retrained without it, all
drawn for tuning (seeds and forget-set draws other than the ones a paper reports: the caller's
choice). Each trial runs the method once through :func:`lethe.unlearning.run_unlearning` with
hyperparameters proposed by Optuna's TPE sampler and scores the result:

* **Objective: SalUn's average gap to the retrained model**, in percentage points: the mean
  of |Δ| over four terms, measured on the unlearned and the retrained model alike,
  accuracy on D_f (UA), accuracy on D_r (RA), accuracy on the validation split's images of the
  retained classes (VA, in place of the test accuracy: the test set is the evaluation's), and
  MIA-efficacy with the validation split as the non-members (:func:`lethe.metrics.mia.efficacy_mia`).
* **Random-sample forgetting adds a fifth term, the forget-loss shift**: how far the mean
  cross-entropy on D_f stays from the retrained model's, as a share of how far the original's
  was, 100 · min(1, |L_f − L_f^r| / max(|L_f^o − L_f^r|, 0.01)) (the original scores 100,
  the retrained model 0), and the objective is the mean of the five terms. Measured on digits'
  random 10 %: the original's four-term gap is 1-2 pp (a model generalises to D_f almost as
  well as it fits it), so a four-term search chose near no-ops (13 of 15 methods moved D_f's
  loss less than a sixth of the way the retrained model did). Class forgetting keeps the four
  terms: there UA alone separates the original (100 %) from the retrained model (0 %).
* **Time bound.** A trial whose unlearning took longer than ``time_fraction`` of the
  retraining time is infeasible (the NeurIPS 2023 unlearning challenge allowed 20 %): its
  objective is its gap plus :data:`INFEASIBLE_PENALTY`, so that it ranks below every feasible
  trial, and the trial says so (``feasible``).
* **Time cap.** A trial still running at :data:`ABORT_FACTOR` times the bound is stopped (a
  SIGALRM timer, where the search runs in a process's main thread, as rule tune's jobs do): it is
  infeasible whatever its gap would have been, so finishing it would only cost time. It scores
  ``2 *`` :data:`INFEASIBLE_PENALTY`, below every trial that finished, and says so (``aborted``,
  its gap None). The best trial is the best finished one; when every trial was stopped there is
  none, ``best`` is empty and the method's runs keep their base values.
* A run that returns non-finite outputs scores the largest gap there is (100 pp on every term
  is impossible, so :data:`INFEASIBLE_PENALTY` again), never a perfect one.

Every trial uses the same unlearning seed, so trials differ by their hyperparameters alone.

**Reproducible and resumable.** The study lives in a SQLite file (Optuna's RDB storage). Trial
i is proposed by a TPE sampler seeded with ``derived_seed(seed, STREAM, i)`` from the trials
completed before it, so the sequence of trials depends on the seed and the history only: a
search interrupted after k trials and resumed proposes the same trial k + 1 as one that ran
straight through. Trials left running by a crash are ignored; ``trials`` counts completed ones.

The search space is the catalogue's (:attr:`lethe.methods.catalog.MethodInfo.search_space`):
per hyperparameter a :class:`lethe.tuning.space.Dimension`.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from lethe.data.forget_sets import retain_indices
from lethe.data.tensors import Dataset
from lethe.metrics.mia import efficacy_mia, softmax
from lethe.metrics.predict import logits, logits_accuracy
from lethe.seeds import derived_seed
from lethe.tuning.space import Dimension, check_space

log = logging.getLogger(__name__)

STREAM = 7301  # the tuning sampler's seed stream (lethe.seeds)
INFEASIBLE_PENALTY = 100.0  # pp added to the gap of a trial over its time bound or with non-finite outputs
TERMS = ("ua", "ra", "va", "mia_efficacy")
LOSS_FLOOR = 0.01  # nats: the smallest original-to-retrain loss distance the shift term divides by
ABORT_FACTOR = 3.0  # a trial still running at this many times its time bound is stopped


class TrialTimeout(Exception):
    """A trial ran past its time cap."""


@contextmanager
def time_cap(seconds: float):
    """Raise :class:`TrialTimeout` in the block once ``seconds`` have passed (SIGALRM); no cap
    outside a process's main thread or where the platform has no interval timer."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TrialTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- the objective


class Scorer:
    """The four terms of a model on the tuning data (see the module docstring), and gaps."""

    def __init__(self, dataset: Dataset, forget: dict, seed: int) -> None:
        idx = np.asarray(forget["indices"], dtype=np.int64)
        self.d_f = dataset.train.subset(idx)
        self.d_r = dataset.train.subset(retain_indices(forget, len(dataset.train)))
        self.val = dataset.val.without_classes(forget["classes"])
        if len(self.val) == 0:
            raise ValueError("tuning scores on the validation split, and it has no image of a retained class")
        self.seed = seed

    def terms(self, model) -> dict[str, float] | None:
        """UA, RA, VA and MIA-efficacy as fractions; None if the model's outputs are not finite."""
        z = {name: logits(model, split) for name, split in (("f", self.d_f), ("r", self.d_r), ("v", self.val))}
        if not all(bool(torch.isfinite(v).all()) for v in z.values()):
            return None
        y = {"f": self.d_f.y.cpu(), "r": self.d_r.y.cpu(), "v": self.val.y.cpu()}
        acc = {k: logits_accuracy(z[k], y[k]) for k in z}
        p = {k: softmax(z[k].numpy()) for k in z}
        mia = efficacy_mia(p["r"], y["r"].numpy(), p["v"], y["v"].numpy(), p["f"], y["f"].numpy(), self.seed)
        loss_f = float(torch.nn.functional.cross_entropy(z["f"].float(), y["f"]))
        return {"ua": acc["f"], "ra": acc["r"], "va": acc["v"], "mia_efficacy": mia["mia_efficacy"], "loss_f": loss_f}


def gap(terms: dict[str, float] | None, reference: dict[str, float]) -> float:
    """SalUn's average gap in percentage points; the penalty for a model with non-finite outputs."""
    if terms is None:
        return INFEASIBLE_PENALTY
    return 100.0 * float(np.mean([abs(terms[k] - reference[k]) for k in TERMS]))


def loss_shift(terms: dict[str, float] | None, reference: dict[str, float], original: dict[str, float]) -> float:
    """The forget-loss shift term in [0, 100] (see the module docstring); 100 for non-finite outputs."""
    if terms is None:
        return 100.0
    distance = max(abs(original["loss_f"] - reference["loss_f"]), LOSS_FLOOR)
    return 100.0 * min(1.0, abs(terms["loss_f"] - reference["loss_f"]) / distance)


def score(gap_pp: float, shift: float | None) -> float:
    """The objective before any time penalty: the gap, or with the shift term the mean of the five."""
    return gap_pp if shift is None else (len(TERMS) * gap_pp + shift) / (len(TERMS) + 1)


# --------------------------------------------------------------------------- the search


def search(
    method: str,
    *,
    dataset: Dataset,
    original,
    forget: dict,
    retrained,
    retrain_seconds: float,
    space: dict[str, Dimension],
    base_params: dict,
    trials: int,
    time_fraction: float,
    seed: int,
    storage: str | Path,
    arch: str,
    device: torch.device,
    study_name: str | None = None,
    **run_options,
) -> dict:
    """Run (or resume) the search; return the best trial and every completed trial.

    ``base_params``: the method's full parameters (defaults merged with the config), of which
    the search overrides the names in ``space``. ``storage``: the study's SQLite file;
    ``study_name`` the study's name in it (a resumed search must name the same study; by default
    method, forget set and seed). ``run_options``: passed to :func:`lethe.unlearning.run_unlearning`
    (``amp``, ``memory_format``).
    """
    import optuna

    from lethe.unlearning import run_unlearning

    check_space(method, space, base_params)
    if trials < 1:
        raise ValueError(f"tuning needs at least one trial, got {trials}")
    if not 0 < time_fraction:
        raise ValueError(f"tuning.time_fraction must be positive, got {time_fraction}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scorer = Scorer(dataset, forget, seed)
    reference = scorer.terms(retrained)
    if reference is None:
        raise ValueError("the retrained model's outputs are not finite")
    original_terms = scorer.terms(original) if not forget["classes"] else None  # the shift term's scale
    if not forget["classes"] and original_terms is None:
        raise ValueError("the original model's outputs are not finite")
    budget = time_fraction * retrain_seconds
    url = f"sqlite:///{Path(storage).resolve()}"
    name = study_name or f"{method}-{forget['id']}-seed{seed}"

    def objective(trial) -> float:
        params = {**base_params, **{key: dim.suggest(trial, key) for key, dim in space.items()}}
        started = time.perf_counter()
        try:
            with time_cap(ABORT_FACTOR * budget):
                model, record = run_unlearning(
                    method, original, dataset, forget, params, arch=arch, seed=seed, device=device, **run_options
                )
        except TrialTimeout:
            seconds = time.perf_counter() - started
            log.info("tuning %s: trial stopped at %.1f s, %g times its time bound", method, seconds, ABORT_FACTOR)
            for key, value in (
                ("gap", None),
                ("loss_shift", None),
                ("seconds", seconds),
                ("feasible", False),
                ("terms", None),
            ):
                trial.set_user_attr(key, value)
            trial.set_user_attr("aborted", True)
            return 2 * INFEASIBLE_PENALTY
        terms = scorer.terms(model)
        gap_pp = gap(terms, reference)
        shift = None if original_terms is None else loss_shift(terms, reference, original_terms)
        value = score(gap_pp, shift)
        feasible = terms is not None and record["seconds"] <= budget
        trial.set_user_attr("gap", gap_pp)
        trial.set_user_attr("loss_shift", shift)
        trial.set_user_attr("seconds", record["seconds"])
        trial.set_user_attr("feasible", feasible)
        trial.set_user_attr("terms", terms)
        trial.set_user_attr("aborted", False)
        return value if feasible else value + INFEASIBLE_PENALTY

    started = time.perf_counter()
    study = optuna.create_study(study_name=name, storage=url, direction="minimize", load_if_exists=True)
    done = _completed(study)
    if done:
        log.info("tuning %s: resuming %s with %d of %d trials complete", method, name, len(done), trials)
    while len(done) < trials:
        i = len(done)
        study = optuna.load_study(
            study_name=name, storage=url, sampler=optuna.samplers.TPESampler(seed=derived_seed(seed, STREAM, i))
        )
        study.optimize(objective, n_trials=1)
        done = _completed(study)
        last = done[-1]
        last_gap, last_shift = last.user_attrs["gap"], last.user_attrs.get("loss_shift")
        log.info(
            "tuning %s trial %d/%d: gap %s%s%s (best objective %.2f) %s",
            method,
            i + 1,
            trials,
            "?" if last_gap is None else f"{last_gap:.2f} pp",
            "" if last_shift is None else f", loss shift {last_shift:.1f}",
            "" if last.user_attrs["feasible"] else " INFEASIBLE",
            min(t.value for t in done),
            last.params,
        )
    done = done[:trials]
    finished = [t for t in done if not t.user_attrs.get("aborted", False)]
    best = min(finished, key=lambda t: (t.value, t.number)) if finished else None
    if best is None:
        log.warning("tuning %s: every trial was stopped at its time cap; the method keeps its base values", method)
    return {
        "method": method,
        "forget_set": forget["id"],
        "seed": seed,
        # No finished trial: no values to choose (the runs keep base_params).
        "best": {} if best is None else {key: best.params[key] for key in space},
        "objective": None if best is None else best.value,
        "gap": None if best is None else best.user_attrs["gap"],
        "loss_shift": None if best is None else best.user_attrs.get("loss_shift"),
        "feasible": False if best is None else best.user_attrs["feasible"],
        "best_seconds": None if best is None else best.user_attrs["seconds"],
        "retrain_terms": reference,
        "original_terms": original_terms,
        "retrain_seconds": retrain_seconds,
        "time_budget_seconds": budget,
        "space": {key: dim.describe() for key, dim in space.items()},
        "trials": [
            {
                "number": t.number,
                "params": dict(t.params),
                "objective": t.value,
                **{key: t.user_attrs[key] for key in ("gap", "seconds", "feasible", "terms")},
                "loss_shift": t.user_attrs.get("loss_shift"),
                "aborted": t.user_attrs.get("aborted", False),
            }
            for t in done
        ],
        "wall_seconds": time.perf_counter() - started,
    }


def _completed(study) -> list:
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return sorted(complete, key=lambda t: t.number)
