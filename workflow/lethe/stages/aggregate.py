"""Rule aggregate: every metrics JSON into the tidy table, its summary and the paired tests."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from lethe.metrics.catalog import PAIRED_METRICS
from lethe.metrics.stats import POWER_COLUMNS, attack_power, avg_gaps, paired_vs_retrain
from lethe.report.aggregate import GROUP_KEYS, collect, summarise, write_csv

log = logging.getLogger(__name__)


def aggregate(
    metrics_paths: list[str | Path], out_tidy: str | Path, out_summary: str | Path, out_paired: str | Path | None = None
) -> None:
    """Tidy CSV (one row per run and metric, plus each run's average gaps to retrain), its
    mean/std/n/ci95 summary with each attack's pooled power (lethe.metrics.stats.attack_power),
    and paired comparisons with retrain (per seed and draw)."""
    tidy = collect(metrics_paths)
    tidy = pd.concat([tidy, avg_gaps(tidy)], ignore_index=True)
    write_csv(tidy, out_tidy)
    summary = summarise(tidy).merge(attack_power(tidy), on=[*GROUP_KEYS, "metric"], how="left")
    write_csv(summary[[c for c in summary.columns if c not in POWER_COLUMNS] + POWER_COLUMNS], out_summary)
    if out_paired is not None:
        present = [m for m in PAIRED_METRICS if m in set(tidy["metric"])]
        paired = [paired_vs_retrain(tidy, m).assign(metric=m) for m in present]
        write_csv(pd.concat(paired, ignore_index=True) if paired else pd.DataFrame(), out_paired)
    log.info("aggregated %d metrics files into %d rows", len(metrics_paths), len(tidy))


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    aggregate(
        [*job.input.metrics, *job.input.get("quality", [])], job.output.tidy, job.output.summary, job.output.paired
    )
