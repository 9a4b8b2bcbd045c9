"""95 % intervals: of a proportion, of a mean over runs, of a statistic over samples, and pooled.

Every interval in Lethe's tables and metrics JSONs comes from one of these:

* :func:`wilson`: a proportion measured on n independent trials (an attack's held-out
  accuracy: the fraction of n held-out members and non-members it labels correctly).
  Wilson's score interval, which stays inside [0, 1] and keeps its coverage for
  proportions near 0 or 1 (the normal approximation does not).
* :func:`mean_interval`: the mean of values over runs (seeds × forget-set draws), the
  Student-t interval ``mean ± t(0.975, n−1) · s / √n``. With n = 3 seeds,
  t = 4.30: the half-width is 2.5 sample standard deviations, which is what three runs
  can say. n < 2 gives NaN.
* :func:`bootstrap_interval`: a statistic of one model's per-sample scores (an AUC over
  the forget set, TPR at a fixed FPR), the percentile bootstrap over the samples, each
  group (for example forget samples and held-out samples) resampled on its own, from a
  seeded generator.
* :func:`pooled_interval`: one power estimate per run, each with its interval and
  sample count, pooled into one for a table cell: the n-weighted mean, with the
  standard errors read from the runs' half-widths (``(hi − lo) / (2 · 1.96)``) and
  combined as independent; the runs of a table cell are different models and draws.

:func:`has_power` is the gate of every verdict: an attack has power when the lower end
of its interval is above chance (:data:`lethe.metrics.catalog.CHANCE`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats as sps

from lethe.metrics.catalog import CHANCE

Z95 = 1.959963984540054
BOOTSTRAP_DRAWS = 1000


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's 95 % score interval of a proportion ``p`` measured on ``n`` trials."""
    if n <= 0:
        return float("nan"), float("nan")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The interval contains p also where rounding would put p = 1 a hair above its upper end.
    return float(min(p, max(0.0, centre - half))), float(max(p, min(1.0, centre + half)))


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """The mean of ``values`` and the half-width of its Student-t 95 % interval (NaN if n < 2)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) < 2:
        return float(v.mean()), float("nan")
    half = sps.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(half)


def bootstrap_interval(
    statistic: Callable[..., float],
    groups: Sequence[np.ndarray],
    seed: int,
    draws: int = BOOTSTRAP_DRAWS,
) -> tuple[float, float]:
    """Percentile 95 % bootstrap interval of ``statistic(*groups)``, each group resampled with replacement."""
    rng = np.random.default_rng(seed)
    groups = [np.asarray(g) for g in groups]
    values = np.empty(draws)
    for i in range(draws):
        values[i] = statistic(*(g[rng.integers(0, len(g), len(g))] for g in groups))
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def pooled_interval(
    estimates: Sequence[float], lows: Sequence[float], highs: Sequence[float], counts: Sequence[float]
) -> tuple[float, float, float]:
    """(estimate, lo, hi) pooled over runs: n-weighted mean, independent standard errors."""
    est, lo, hi, n = (np.asarray(a, dtype=np.float64) for a in (estimates, lows, highs, counts))
    keep = np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi) & np.isfinite(n) & (n > 0)
    if not keep.any():
        return float("nan"), float("nan"), float("nan")
    est, lo, hi, n = est[keep], lo[keep], hi[keep], n[keep]
    w = n / n.sum()
    se = (hi - lo) / (2 * Z95)
    mean = float((w * est).sum())
    half = Z95 * float(np.sqrt(((w * se) ** 2).sum()))
    return mean, mean - half, mean + half


def has_power(lo: float) -> bool:
    """An attack has power when the lower end of its 95 % interval is above chance."""
    return bool(np.isfinite(lo) and lo > CHANCE)
