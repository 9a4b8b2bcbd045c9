"""Tidy results: one row per (run, metric), and their mean ± std summaries."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from lethe.io import atomic_path, read_json

RUN_KEYS = ["dataset", "arch", "seed", "forget_set", "forget_set_name", "forget_kind", "n_forget_classes", "method"]
GROUP_KEYS = ["dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes", "method"]


def tidy_rows(metrics: dict) -> list[dict]:
    """The tidy rows of one metrics JSON; metrics that do not apply (None) are left out."""
    classes = metrics["forget_classes"]
    base = {
        "dataset": metrics["dataset"],
        "arch": metrics["arch"],
        "seed": metrics["seed"],
        "forget_set": metrics["forget_set"],
        "forget_set_name": metrics["forget_set_name"],
        "forget_kind": metrics["forget_kind"],
        "n_forget_classes": 0 if classes is None else len(classes),
        "method": metrics["method"],
    }
    rows = [
        {**base, "metric": name, "value": float(value)}
        for name, value in metrics["metrics"].items()
        if value is not None
    ]
    for cost in ("eval_seconds", "quality_seconds"):  # an evaluation's, or a population comparison's
        if cost in metrics:
            rows.append({**base, "metric": cost, "value": float(metrics[cost])})
    return rows


def collect(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Read metrics JSONs into one tidy frame, sorted for stable output."""
    rows = [row for path in paths for row in tidy_rows(read_json(path))]
    frame = pd.DataFrame(rows, columns=[*RUN_KEYS, "metric", "value"])
    return frame.sort_values([*RUN_KEYS, "metric"], kind="stable").reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def summarise(tidy: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample std, count and the half-width ``ci95`` of the Student-t 95 % interval of
    the mean (:func:`lethe.metrics.intervals.mean_interval`) over seeds and forget-set draws,
    per scenario, method and metric. Where one run is all there is, ``ci95`` is that run's own
    interval for the metrics that write one (``interval`` in :mod:`lethe.metrics.catalog`:
    half the width of the run's interval: Wilson's for an accuracy, a bootstrap over the models
    for F and U-LiRA, over the forget examples for LiRA's verdict), NaN otherwise."""
    from lethe.metrics.intervals import mean_interval

    grouped = tidy.groupby([*GROUP_KEYS, "metric"], sort=False)["value"]
    summary = grouped.agg(mean="mean", std="std", n="count").reset_index()
    summary["std"] = summary["std"].fillna(0.0)
    summary["ci95"] = grouped.agg(lambda v: mean_interval(v.to_numpy())[1]).to_numpy()
    _own_intervals(tidy, summary)
    return summary


def _own_intervals(tidy: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Fill ``ci95`` of single-run cells from the run's own ``_lo``/``_hi`` (see :func:`summarise`)."""
    from lethe.metrics.catalog import INTERVAL_METRICS

    for metric in INTERVAL_METRICS:
        rows = summary.index[(summary["metric"] == metric) & (summary["n"] == 1)]
        if not len(rows):
            continue
        cells = summary.loc[rows, GROUP_KEYS]
        for side in ("lo", "hi"):
            # The bounds of the one run with a value (a cell's other runs may have none: NaN).
            bound = tidy.loc[tidy["metric"] == f"{metric}_{side}", [*GROUP_KEYS, "value"]].dropna(subset=["value"])
            bound = bound.drop_duplicates(GROUP_KEYS).rename(columns={"value": side})
            cells = cells.merge(bound, on=GROUP_KEYS, how="left")
        if {"lo", "hi"} <= set(cells.columns):
            summary.loc[rows, "ci95"] = ((cells["hi"] - cells["lo"]) / 2).to_numpy()
