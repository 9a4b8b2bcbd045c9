"""Distribution-level forgetting: the NeurIPS 2023 unlearning challenge's forgetting quality
(ε per example, F and the final score) and a per-example likelihood-ratio attack in the
style of U-LiRA (Hayes et al. 2024), from N unlearning runs and N retrains (torch-free).

Both compare two *populations* of models (:mod:`lethe.populations.runs`): the method applied N
times to the same original with N unlearning seeds, and N models retrained from scratch on
D_r with N training seeds. For each forget example j and model i the population holds
φ_ij, the logit-scaled confidence of the true label (:func:`lethe.metrics.predict.logit_confidence`).
φ is a strictly increasing function of the true-label probability p and the challenge's
statistic, the cross-entropy loss −log p, is a strictly decreasing one, so every threshold
on one is a threshold on the other: ε computed on φ equals ε computed on the loss.

**ε and F** (Triantafillou et al. 2024, "Are we making progress in unlearning?"): for example
j, an attacker sees the statistic of one model and says "unlearned" or "retrained". Every
decision threshold between two distinct values of the 2N statistics, in both directions
(unlearned above or below it), gives a false-positive rate (retrained called unlearned) and a
false-negative rate (unlearned called retrained); each pair bounds the privacy loss,
ε = max(log(1 − δ − FPR) − log FNR, log(1 − δ − FNR) − log FPR), and ε_j is the largest over
the thresholds (:func:`epsilons`). As in the challenge's code, a threshold whose FPR or FNR
is zero is skipped (its ratio is unbounded by sampling alone) unless both are, which
separates the populations completely: ε_j = ∞. δ = :data:`DELTA`. Each ε_j is bucketed in
bins of width 0.5 and scored 2/2^n for bin n (1 for ε < 0.5, halving per bin, about 0 from ε
≥ 6): :func:`forgetting_quality` F is the mean over D_f. The challenge's final score is
F × (RA_u / RA_r) × (TA_u / TA_r), RA and TA the mean accuracies of the two populations on
D_r and on the test set (the test samples of the retained classes under class forgetting:
accuracy on a forgotten class is not utility). The challenge also ran a cross-validated
logistic regression on the same scalar; on one feature that is one threshold again, so the
best threshold, taken in-sample, dominates it.

**U-LiRA accuracy** (:func:`ulira_accuracy`): for each forget example, Gaussians of φ under
the unlearned and the retrained population (LiRA's, :func:`lethe.metrics.lira.gaussians`:
per-example variances with at least 16 models a side, else pooled), fitted on one half of
each population and used on the other half (two folds, every model scored once, by a fit
that did not see it); a held-out model is called unlearned where its log likelihood ratio
is positive. The accuracy over held-out models and examples is 0.5 when unlearning is
indistinguishable from retraining and 1 when every example gives it away. It is reported
twice. ``ulira_acc`` is Hayes et al.'s setting: run i of the method starts from its own
original (the shadow originals of :mod:`lethe.populations.shadow`, trained like the original from
independent seeds), so the attacker does not know which original a model came from.
``ulira_known_acc`` reads the population that :mod:`lethe.populations.runs` draws from the
pipeline's one original (the one F reads): the attacker knows the original, a stronger
threat model, in which a deterministic method (every run the same model) is always
recognised. Hayes et al. draw their shadow models on random halves of the data and forget
random samples of them; with class forgetting the forget set is fixed by its classes, so the
shadow originals here all train on the whole training set and differ by seed only.

A **deterministic** method (every run returns the same model; zero_output, for one)
has no ε in the challenge's sense: every threshold leaves its FNR at 0 or 1 and is skipped, so
F would be 1 by construction whatever the model. Its F and score are left undefined (NaN, "--"
in the tables) and ``population_deterministic`` is 1; its U-LiRA accuracies stand (the attacker
who knows the original recognises the one model every run returns: ``ulira_known_acc`` 1).

Neither estimate is exact at finite N: ε is the best of many thresholds chosen on the very
samples it is scored on (biased upward, so F downward), and U-LiRA's Gaussians come from N/2
models a side. So each is reported beside its **null**: the same computation on two
independent retrain populations (the ``retrain_twin`` method's population against
retrain's), which is what an exact unlearning method scores at that N. Intervals are
bootstraps over the models (:func:`forgetting_quality`, :func:`ulira_accuracy`): every forget
example is scored by the same models, so the models, not the examples, are the sample.
"""

from __future__ import annotations

import numpy as np

from lethe.metrics.lira import gaussians, scores

DELTA = 0.01  # the challenge's δ
BIN_WIDTH = 0.5  # ε is bucketed in bins of this width ...
BINS = 13  # ... from 0 to 6; every ε beyond the last edge scores 2 / 2**BINS
BOOTSTRAP_DRAWS = 200  # resampled populations per interval
BOOTSTRAP_EXAMPLES = 1000  # F's bootstrap scores at most this many forget examples (a seeded draw)
MIN_MODELS = 4  # two folds of at least 2 models a side (LiRA's Gaussians need 2 per side)


def _check(unlearned: np.ndarray, retrained: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, r = np.asarray(unlearned, np.float64), np.asarray(retrained, np.float64)
    if u.ndim != 2 or r.ndim != 2 or u.shape[1] != r.shape[1]:
        raise ValueError(
            f"quality: populations must be models × examples with the same examples, got {u.shape} and {r.shape}"
        )
    if min(len(u), len(r)) < MIN_MODELS:
        raise ValueError(f"quality: each population needs at least {MIN_MODELS} models, got {len(u)} and {len(r)}")
    return u, r


def epsilons(unlearned: np.ndarray, retrained: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """ε_j of every example j (module docstring) from N_u × S and N_r × S statistics."""
    u, r = _check(unlearned, retrained)
    nu, nr = len(u), len(r)
    values = np.concatenate([u, r]).T  # S × (nu + nr)
    order = np.argsort(values, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    is_u = order < nu
    # Cut after position k (k = 0..n): the k smallest are "below". Only between distinct values.
    below_u = np.concatenate([np.zeros((len(values), 1)), np.cumsum(is_u, axis=1)], axis=1)
    below_r = np.concatenate([np.zeros((len(values), 1)), np.cumsum(~is_u, axis=1)], axis=1)
    distinct = np.ones_like(below_u, dtype=bool)
    distinct[:, 1:-1] = sorted_values[:, 1:] > sorted_values[:, :-1]
    # Direction 1, "unlearned" above the cut: FNR = unlearned below, FPR = retrained above.
    fnr1, fpr1 = below_u / nu, 1 - below_r / nr
    best = np.zeros(len(values))
    for fpr, fnr in ((fpr1, fnr1), (1 - fpr1, 1 - fnr1)):  # direction 2: "unlearned" below the cut
        with np.errstate(divide="ignore", invalid="ignore"):
            e1 = np.log(1 - delta - fpr) - np.log(fnr)
            e2 = np.log(1 - delta - fnr) - np.log(fpr)
        eps = np.fmax(e1, e2)  # NaN (log of a negative) where 1 − δ − rate < 0
        eps = np.where((fpr == 0) & (fnr == 0), np.inf, eps)
        usable = distinct & ((fpr > 0) & (fnr > 0) | (fpr == 0) & (fnr == 0))
        eps = np.where(usable & ~np.isnan(eps), eps, -np.inf)
        best = np.maximum(best, eps.max(axis=1))
    return best


def bin_scores(eps: np.ndarray) -> np.ndarray:
    """The challenge's per-example score of ε: 2 / 2**n, n the 1-based bin of width :data:`BIN_WIDTH`."""
    n = np.digitize(np.asarray(eps, np.float64), np.arange(BINS) * BIN_WIDTH)
    return 2.0 / 2.0**n


def _percentile(values) -> tuple[float, float]:
    lo, hi = np.percentile(np.asarray(values, np.float64), [2.5, 97.5])
    return float(lo), float(hi)


def forgetting_quality(unlearned: np.ndarray, retrained: np.ndarray, seed: int, delta: float = DELTA) -> dict:
    """F (the mean bin score of ε over the examples) with its 95 % interval over models, and ε's summary.

    The interval is a bootstrap over the models (each population resampled, :data:`BOOTSTRAP_DRAWS`
    draws, on at most :data:`BOOTSTRAP_EXAMPLES` forget examples): the examples are scored by
    the same models, so resampling examples would miss most of the noise. A resampled population
    repeats models, which moves ε's best threshold, so the bootstrap's own centre is off: its
    percentile spread is placed around the estimate (``lo = F − (mean − q2.5)``, ``hi = F + (q97.5 − mean)``).
    """
    u, r = _check(unlearned, retrained)
    eps = epsilons(u, r, delta)
    h = bin_scores(eps)
    rng = np.random.default_rng(seed)
    cols = np.arange(u.shape[1])
    if len(cols) > BOOTSTRAP_EXAMPLES:
        cols = np.sort(rng.choice(cols, BOOTSTRAP_EXAMPLES, replace=False))
    uu, rr = u[:, cols], r[:, cols]
    draws = [
        bin_scores(epsilons(uu[rng.integers(0, len(u), len(u))], rr[rng.integers(0, len(r), len(r))], delta)).mean()
        for _ in range(BOOTSTRAP_DRAWS)
    ]
    q_lo, q_hi = _percentile(draws)
    centre = float(np.mean(draws))
    finite = eps[np.isfinite(eps)]
    return {
        "fq_F": float(h.mean()),
        "fq_F_lo": max(0.0, float(h.mean()) - (centre - q_lo)),
        "fq_F_hi": min(1.0, float(h.mean()) + (q_hi - centre)),
        "fq_eps_median": float(np.median(eps)),
        "fq_eps_inf_fraction": float(np.mean(np.isinf(eps))),
        "fq_eps_max_finite": float(finite.max()) if len(finite) else float("nan"),
    }


def ulira_correct(unlearned: np.ndarray, retrained: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether the Gaussian likelihood-ratio attack (module docstring) classifies each held-out
    model right on each example: (N_u × S, N_r × S) bool, every model scored once, by the fold's
    fit that did not see it."""
    u, r = _check(unlearned, retrained)
    folds_u = [np.arange(len(u)) % 2 == k for k in (0, 1)]
    folds_r = [np.arange(len(r)) % 2 == k for k in (0, 1)]
    right_u, right_r = np.zeros(u.shape, dtype=bool), np.zeros(r.shape, dtype=bool)
    for fit, held in ((0, 1), (1, 0)):
        phi = np.concatenate([u[folds_u[fit]], r[folds_r[fit]]])
        is_unlearned = np.zeros(phi.shape, dtype=bool)
        is_unlearned[: folds_u[fit].sum()] = True  # LiRA's "IN" side
        g = gaussians(phi, is_unlearned)
        right_u[folds_u[held]] = scores(u[folds_u[held]], g, "online") > 0
        right_r[folds_r[held]] = scores(r[folds_r[held]], g, "online") <= 0
    return right_u, right_r


def ulira_per_example(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """Per example, the attack's held-out accuracy, each population weighing one half whatever its size."""
    right_u, right_r = ulira_correct(unlearned, retrained)
    return 0.5 * (right_u.mean(axis=0) + right_r.mean(axis=0))


def ulira_accuracy(unlearned: np.ndarray, retrained: np.ndarray, seed: int) -> dict:
    """The attack's mean held-out accuracy, with its 95 % interval over models: a percentile
    bootstrap of the held-out models' accuracies (each population resampled; no model is in the
    fit that scores it, so no refit is needed)."""
    right_u, right_r = ulira_correct(unlearned, retrained)
    per_u, per_r = right_u.mean(axis=1), right_r.mean(axis=1)
    rng = np.random.default_rng(seed)
    draws = 0.5 * (
        per_u[rng.integers(0, len(per_u), (BOOTSTRAP_DRAWS, len(per_u)))].mean(axis=1)
        + per_r[rng.integers(0, len(per_r), (BOOTSTRAP_DRAWS, len(per_r)))].mean(axis=1)
    )
    lo, hi = _percentile(draws)
    return {"ulira_acc": float(0.5 * (per_u.mean() + per_r.mean())), "ulira_acc_lo": lo, "ulira_acc_hi": hi}


def utility_ratios(unlearned: dict, retrained: dict) -> dict:
    """RA_u / RA_r and TA_u / TA_r from the populations' per-model accuracies (``acc_retain``, ``acc_test_retained``)."""
    ra = float(np.mean(unlearned["acc_retain"])) / float(np.mean(retrained["acc_retain"]))
    ta = float(np.mean(unlearned["acc_test_retained"])) / float(np.mean(retrained["acc_test_retained"]))
    return {"fq_ra_ratio": ra, "fq_ta_ratio": ta}


NONFINITE = 1e6  # |φ| given to non-finite confidences (a diverged model); finite log-odds stay far below it


def _finite(population: dict) -> dict:
    """``population`` with NaN and −∞ in φ as −:data:`NONFINITE`, +∞ as +NONFINITE, and the count
    of models that had any (``nonfinite_models``)."""
    phi = np.asarray(population["phi"], np.float64)
    bad = ~np.isfinite(phi)
    clean = np.where(np.isposinf(phi), NONFINITE, np.where(bad, -NONFINITE, phi))
    return {**population, "phi": clean, "nonfinite_models": int(bad.any(axis=1).sum())}


def population_metrics(unlearned: dict, retrained: dict, seed: int, shadow: dict | None = None) -> dict:
    """Every population metric of a method's population against retrain's: F, the challenge's
    score (F × RA ratio × TA ratio, its interval F's scaled by the same ratios), U-LiRA with
    the original known (``ulira_known_acc``) and, given the population from the shadow
    originals (``shadow``), U-LiRA as Hayes et al. define it (``ulira_acc``).

    ``unlearned``, ``retrained`` and ``shadow``: ``phi`` (N × |D_f|), ``acc_retain`` and
    ``acc_test_retained`` (N each), as :func:`lethe.populations.runs.run_population` returns.
    A model whose outputs are not finite (a diverged ascent) is told from every retrained one by
    that alone: its non-finite φ are scored as :data:`NONFINITE` (−, or + for +∞), far outside
    any finite φ, and ``population_nonfinite_models`` counts such models (``population_shadow_nonfinite_models``
    in the shadow population); the tables mark such a population and print no measurement where all are.
    """
    unlearned, retrained = _finite(unlearned), _finite(retrained)
    shadow = None if shadow is None else _finite(shadow)
    out = forgetting_quality(unlearned["phi"], retrained["phi"], seed)
    out.update(utility_ratios(unlearned, retrained))
    scale = out["fq_ra_ratio"] * out["fq_ta_ratio"]
    out.update(
        {"fq_score": out["fq_F"] * scale, "fq_score_lo": out["fq_F_lo"] * scale, "fq_score_hi": out["fq_F_hi"] * scale}
    )
    deterministic = bool(unlearned.get("deterministic", False))
    if deterministic:  # every threshold leaves FNR at 0 or 1 and is skipped: F would be 1 by construction
        out.update({key: float("nan") for key in out if key.startswith(("fq_F", "fq_score", "fq_eps"))})
    out["population_deterministic"] = float(deterministic)
    known = ulira_accuracy(unlearned["phi"], retrained["phi"], seed + 1)
    out.update({key.replace("ulira_", "ulira_known_"): value for key, value in known.items()})
    if shadow is not None:
        out.update(ulira_accuracy(shadow["phi"], retrained["phi"], seed + 2))
    out["population_nonfinite_models"] = int(unlearned["nonfinite_models"])
    if shadow is not None:
        out["population_shadow_nonfinite_models"] = int(shadow["nonfinite_models"])
    out["population_models"] = int(len(unlearned["phi"]))
    out["population_retrains"] = int(len(retrained["phi"]))
    out["population_examples"] = int(np.asarray(unlearned["phi"]).shape[1])
    return out
