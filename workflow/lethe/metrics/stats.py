"""Statistics for the tables: paired comparisons with retrain, and the average gap to retrain.

Both work on the tidy frame of :func:`lethe.report.aggregate.collect` (columns
``dataset, arch, seed, forget_set, forget_set_name, forget_kind, n_forget_classes,
method, metric, value``; one row per run and metric). Retrain is the reference: the
method ``"retrain"`` run on the same dataset, architecture, seed and forget set (the
forget-set id carries the draw, so a pair is one seed × one forget-set draw).

* :func:`paired_vs_retrain`: per scenario and method, the differences
  ``method − retrain`` of one metric over the paired runs; their mean, sample std
  (ddof 1), count and the two-sided p-value of a paired test. The test is the paired
  t-test (``scipy.stats.ttest_1samp`` of the differences against 0, identical to
  ``ttest_rel``) by default, because Lethe's default of 3 seeds is too few for a
  Wilcoxon signed-rank test to ever reject (its smallest exact two-sided p-value with
  n = 3 is 0.25); ``test="wilcoxon"`` (``scipy.stats.wilcoxon``, exact for small n) is
  available for larger n. With n < 2 the std and p-value are NaN; when every difference
  is 0 the p-value is 1 (no evidence of a difference); when the differences are all
  equal and non-zero it is 0 (the t statistic is infinite).
* :func:`avg_gap`: SalUn's "Avg. Gap" (Fan et al., ICLR 2024): per run, the mean of
  |metric − retrain's metric| over Acc_f (|Δ UA|), Acc_r, the retained-class test accuracy
  and MIA-efficacy; here in fractions (SalUn reports percentage points: multiply by 100).
  :func:`avg_gaps` adds every gap of :data:`lethe.metrics.catalog.GAPS` (SalUn's, and
  ``avg_gap_entropy`` with the entropy MIA in place of MIA-efficacy).
* Retrain is the gold standard of most methods, not of all: SISA's is SISA retrained on D_r with its
  shards, ERM-KTP's its masked original retrained (``MethodInfo.gold_standard``), which the pipeline
  does not build. Their paired tests and gaps against retrain are computed and kept in the CSVs, but
  compare the method's own training with a single network rather than its unlearning: the paired
  table's ``judged`` column is False for them (:func:`lethe.methods.catalog.judged_against_retrain`)
  and the paper's tables print no verdict (:mod:`lethe.report.latex`).
* :func:`attack_power`: per scenario, method and attack, the attack's held-out power
  pooled over the runs (:func:`lethe.metrics.intervals.pooled_interval`) and whether its
  95 % interval clears chance; the tables never bold a verdict without power.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from lethe.methods.catalog import METHODS, judged_against_retrain
from lethe.metrics.catalog import GAP_METRICS, GAPS, METRICS, POWER_SUFFIXES
from lethe.metrics.intervals import has_power, pooled_interval
from lethe.report.aggregate import GROUP_KEYS, RUN_KEYS

GOLD_STANDARD = "retrain"
TESTS = ("ttest", "wilcoxon")
# A run of one method is identified by these; the pair partner shares all but ``method``.
PAIR_KEYS = [key for key in RUN_KEYS if key != "method"]


def _with_reference(tidy: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Rows of ``metrics`` joined with retrain's value of the same run (column ``reference``)."""
    missing = sorted({*RUN_KEYS, "metric", "value"} - set(tidy.columns))
    if missing:
        raise ValueError(f"tidy frame lacks columns {missing}; expected lethe.report.aggregate.collect's format")
    rows = tidy[tidy["metric"].isin(list(metrics))]
    reference = rows[rows["method"] == GOLD_STANDARD][[*PAIR_KEYS, "metric", "value"]]
    if reference.duplicated([*PAIR_KEYS, "metric"]).any():
        raise ValueError("tidy frame has more than one retrain value for one run and metric")
    reference = reference.rename(columns={"value": "reference"})
    return rows.merge(reference, on=[*PAIR_KEYS, "metric"], how="inner")


def _p_value(diffs: np.ndarray, test: str) -> float:
    if len(diffs) < 2:
        return float("nan")
    if np.all(diffs == 0):
        return 1.0
    if np.all(diffs == diffs[0]):
        return 0.0
    if test == "ttest":
        return float(sps.ttest_1samp(diffs, 0.0).pvalue)
    return float(sps.wilcoxon(diffs).pvalue)


def paired_vs_retrain(tidy: pd.DataFrame, metric: str, test: str = "ttest") -> pd.DataFrame:
    """Paired differences ``method − retrain`` of ``metric`` per scenario and method.

    Returns one row per (dataset, arch, forget_set_name, forget_kind, n_forget_classes,
    method) except retrain itself, with ``metric``, ``mean_diff``, ``std_diff``, ``n``
    (paired runs), ``p_value``, ``test`` and ``judged`` (retrain is the method's gold standard, so the
    test is a verdict on its unlearning; False for SISA and ERM-KTP). Runs whose retrain partner is
    missing are left out of ``n``.
    """
    if test not in TESTS:
        raise ValueError(f"paired_vs_retrain: test must be one of {TESTS}, got {test!r}")
    columns = [*GROUP_KEYS, "metric", "mean_diff", "std_diff", "n", "p_value", "test", "judged"]
    paired = _with_reference(tidy, [metric])
    paired = paired[paired["method"] != GOLD_STANDARD]
    if paired.empty:
        return pd.DataFrame(columns=columns)
    paired = paired.assign(diff=paired["value"] - paired["reference"])
    rows = []
    for keys, group in paired.groupby(GROUP_KEYS, sort=True):
        diffs = group["diff"].to_numpy(np.float64)
        rows.append(
            {
                **dict(zip(GROUP_KEYS, keys, strict=True)),
                "metric": metric,
                "mean_diff": float(diffs.mean()),
                "std_diff": float(diffs.std(ddof=1)) if len(diffs) > 1 else float("nan"),
                "n": len(diffs),
                "p_value": _p_value(diffs, test),
                "test": test,
                "judged": keys[GROUP_KEYS.index("method")] not in METHODS
                or judged_against_retrain(keys[GROUP_KEYS.index("method")]),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def avg_gap(tidy: pd.DataFrame, metrics: Sequence[str] = GAP_METRICS, name: str = "avg_gap") -> pd.DataFrame:
    """SalUn's average gap to retrain, per run, as tidy rows with ``metric=name``.

    For each run (every method, retrain included, whose gap is 0): the mean over
    ``metrics`` of |value − retrain's value on the same dataset, arch, seed and forget
    set|. A run is left out when it or its retrain partner lacks one of ``metrics``
    (e.g. an MIA that was not computed), so every gap averages the same quantities.
    """
    metrics = list(dict.fromkeys(metrics))
    if not metrics:
        raise ValueError("avg_gap: needs at least one metric")
    joined = _with_reference(tidy, metrics)
    joined = joined.assign(gap=(joined["value"] - joined["reference"]).abs())
    grouped = joined.groupby(RUN_KEYS, sort=True)["gap"]
    gaps = grouped.agg(value="mean", count="count").reset_index()
    gaps = gaps[gaps["count"] == len(metrics)].drop(columns="count")
    gaps.insert(len(RUN_KEYS), "metric", name)
    return gaps[[*RUN_KEYS, "metric", "value"]].reset_index(drop=True)


def avg_gaps(tidy: pd.DataFrame) -> pd.DataFrame:
    """Every gap of :data:`lethe.metrics.catalog.GAPS`, per run, as tidy rows."""
    return pd.concat([avg_gap(tidy, metrics, name) for name, metrics in GAPS.items()], ignore_index=True)


POWER_COLUMNS = ["power", "power_lo", "power_hi", "has_power"]


def attack_power(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, method and attack metric: the pooled power and whether it clears chance.

    One row per (GROUP_KEYS, metric) for every catalogue metric with a ``power`` key whose
    estimate and ``_lo``, ``_hi``, ``_n`` rows are in ``tidy``; columns :data:`POWER_COLUMNS`.
    """
    columns = [*GROUP_KEYS, "metric", *POWER_COLUMNS]
    rows = []
    present = set(tidy["metric"])
    for metric in METRICS.values():
        keys = {"est": metric.power, **{s: f"{metric.power}_{s}" for s in POWER_SUFFIXES}} if metric.power else {}
        if not keys or not set(keys.values()) <= present:
            continue
        part = tidy[tidy["metric"].isin(list(keys.values()))]
        wide = part.pivot_table(index=RUN_KEYS, columns="metric", values="value", aggfunc="first")
        for group, runs in wide.groupby(GROUP_KEYS, sort=True):
            est, lo, hi = pooled_interval(*(runs[keys[s]] for s in ("est", "lo", "hi", "n")))
            rows.append(
                {
                    **dict(zip(GROUP_KEYS, group, strict=True)),
                    "metric": metric.key,
                    "power": est,
                    "power_lo": lo,
                    "power_hi": hi,
                    "has_power": has_power(lo),
                }
            )
    return pd.DataFrame(rows, columns=columns)
