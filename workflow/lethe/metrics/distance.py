"""Output distances on the forget set: to the retrained model, and to a random one (ZRF).

Pure functions of class-probability arrays (n_f × C, rows summing to 1) of three models
on the *same* forget samples D_f, in the same order: the model under test, the retrained
model (the gold standard) and T_d, a randomly initialised model of the same
architecture (the "incompetent teacher" of Bad Teaching). The caller turns its logits
into probabilities with :func:`probabilities` (float64 softmax, so a confident model's
small probabilities do not underflow to 0 as they do in float32).

Keys of :func:`distance_metrics` (None where an input is missing or D_f is empty):

* ``js_to_retrain``: the Jensen–Shannon divergence in its standard form,
  JS(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M), M = (P + Q)/2, summed over classes and
  averaged over samples; natural log, so 0 ≤ JS ≤ ln 2 (0 only for P = Q). Terms with
  P = 0 contribute 0 (x log x → 0).
* ``js_to_retrain_badt_code``: the form the Bad Teaching code computes
  (``vikram2000b/bad-teaching-unlearning``, ``metrics.py::JSDiv``):
  ``0.5·F.kl_div(log p, m) + 0.5·F.kl_div(log q, m)`` with PyTorch's default ``'mean'``
  reduction. ``F.kl_div(input, target)`` is Σ target·(log target − input), so this is
  ½ KL(M ‖ P) + ½ KL(M ‖ Q), summed over *all* n·C entries and divided by n·C (not by
  n): a different divergence (the arguments of KL swapped), unbounded (KL(M ‖ P) grows
  like log(1/p) where P gives a class almost no mass that Q favours), then divided by
  C. Measured on digits class 3, original against retrain: 0.436 (the standard form
  gives 0.665, near ln 2). Only for comparison with numbers from that code.
  Probabilities are clamped at the smallest positive float64 before the log (the code
  would give inf for an exact 0). PyTorch warns that a future release will make
  ``'mean'`` behave like ``'batchmean'`` (divide by n only); this function keeps the
  n·C division that produced the published numbers.
* ``activation_distance``: mean over D_f of the L2 norm ||P − Q||₂ (Bad Teaching,
  ``metrics.py::actv_dist``), in [0, √2].
* ``agreement_with_retrain``: fraction of D_f where the two models' top-1 predictions
  (argmax, first index on ties) agree.
* ``zrf``: the Zero Retrain Forgetting score of Bad Teaching
  (``metrics.py::UnLearningScore``), 1 − mean JS(P_model, P_random), with the standard
  JS above, so it lies in [1 − ln 2, 1] ≈ [0.307, 1]; 1 means the model answers on D_f
  like a random network. ``zrf_badt_code`` uses the code's JS form (unbounded below,
  compressed towards 1 by the division by C): report it only to compare with that code.

The random model: :func:`random_model` builds ``arch`` with
:func:`lethe.models.registry.build_model` and the seed :func:`random_model_seed` derives
from the run seed. It must differ from the run seed because the run seed initialised
the original model (whose initial weights would otherwise be T_d).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import xlogy

from lethe.models.registry import Classifier, build_model
from lethe.seeds import derived_seed

DISTANCE_KEYS = (
    "js_to_retrain",
    "js_to_retrain_badt_code",
    "activation_distance",
    "agreement_with_retrain",
    "zrf",
    "zrf_badt_code",
)
# Domain tag of the random model's seed: an arbitrary constant, fixed forever.
_ZRF_SEED_TAG = 0x5A52_46


def probabilities(logits: torch.Tensor | np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64."""
    return torch.softmax(torch.as_tensor(logits).double(), dim=-1).cpu().numpy()


def _as_probs(probs: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    array = probs.detach().double().cpu().numpy() if isinstance(probs, torch.Tensor) else np.asarray(probs, np.float64)
    if array.ndim != 2:
        raise ValueError(f"distance_metrics: {name} must be an (n, C) probability array, got shape {array.shape}")
    if array.size and (array.min() < 0 or not np.allclose(array.sum(1), 1.0, atol=1e-4)):
        raise ValueError(f"distance_metrics: {name} rows must be probability vectors (non-negative, summing to 1)")
    return array


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-sample standard JS divergence (natural log) between the rows of ``p`` and ``q``."""
    m = 0.5 * (p + q)
    # xlogy(p, p/m): p·log(p/m), 0 where p = 0 (then m > 0 unless q = 0 too, where the term is 0 as well).
    kl_pm = (xlogy(p, p) - xlogy(p, m)).sum(-1)
    kl_qm = (xlogy(q, q) - xlogy(q, m)).sum(-1)
    return np.clip(0.5 * kl_pm + 0.5 * kl_qm, 0.0, np.log(2.0))


def js_divergence_badt_code(p: np.ndarray, q: np.ndarray) -> float:
    """Bad Teaching's ``JSDiv``: ½ KL(M‖P) + ½ KL(M‖Q), averaged over all n·C entries (see the module docstring)."""
    tiny = np.finfo(np.float64).tiny
    m = 0.5 * (p + q)
    log_p, log_q = np.log(np.maximum(p, tiny)), np.log(np.maximum(q, tiny))
    kl_mp = xlogy(m, m) - m * log_p
    kl_mq = xlogy(m, m) - m * log_q
    return float(0.5 * kl_mp.mean() + 0.5 * kl_mq.mean())


def distance_metrics(
    probs_model: torch.Tensor | np.ndarray,
    probs_retrain: torch.Tensor | np.ndarray | None,
    probs_random: torch.Tensor | np.ndarray | None,
) -> dict:
    """Distances of the model's forget-set outputs to retrain's and to a random model's.

    All three are (n_f × C) probabilities on the same forget samples in the same order;
    ``probs_retrain`` / ``probs_random`` may be None (their keys are then None). Returns
    every key of :data:`DISTANCE_KEYS` as a float or None.
    """
    p = _as_probs(probs_model, "probs_model")
    out: dict = dict.fromkeys(DISTANCE_KEYS)
    if len(p) == 0:
        return out
    if probs_retrain is not None:
        q = _as_probs(probs_retrain, "probs_retrain")
        if q.shape != p.shape:
            raise ValueError(f"distance_metrics: probs_retrain has shape {q.shape}, probs_model {p.shape}")
        out["js_to_retrain"] = float(js_divergence(p, q).mean())
        out["js_to_retrain_badt_code"] = js_divergence_badt_code(p, q)
        out["activation_distance"] = float(np.linalg.norm(p - q, axis=1).mean())
        out["agreement_with_retrain"] = float(np.mean(p.argmax(1) == q.argmax(1)))
    if probs_random is not None:
        r = _as_probs(probs_random, "probs_random")
        if r.shape != p.shape:
            raise ValueError(f"distance_metrics: probs_random has shape {r.shape}, probs_model {p.shape}")
        out["zrf"] = 1.0 - float(js_divergence(p, r).mean())
        out["zrf_badt_code"] = 1.0 - js_divergence_badt_code(p, r)
    return out


def random_model_seed(run_seed: int) -> int:
    """The seed of ZRF's random model T_d for a run: derived from, and never equal to, ``run_seed``.

    A 31-bit value from NumPy's ``SeedSequence`` keyed by (run seed, a fixed tag), so it
    is the same in every process and platform (no ``hash()``).
    """
    seed = derived_seed(run_seed, _ZRF_SEED_TAG) >> 1
    return seed if seed != int(run_seed) else seed + 1


def random_model(arch: str, shape: tuple[int, int, int], num_classes: int, run_seed: int) -> Classifier:
    """T_d: ``arch`` freshly initialised from :func:`random_model_seed` (eval mode, on CPU); random
    weights even where a ``timm-NAME.TAG`` architecture starts from pretrained ones."""
    return build_model(arch, tuple(shape), num_classes, seed=random_model_seed(run_seed), pretrained=False).eval()
