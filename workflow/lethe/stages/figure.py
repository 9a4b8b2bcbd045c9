"""Rules figure_* (but figure_gradcam): read result files, draw one figure (:mod:`lethe.report.figures`).

Each function takes file paths and plain parameters and writes the figure's PDF and PNG;
:func:`main` picks the one the job's figure needs (its registry entry's ``source``,
:mod:`lethe.report.catalog`). None imports torch: the GradCAM panels, which run the models,
are rule figure_gradcam's own stage (:mod:`lethe.stages.saliency_figure`). Each returns True
when the figure shows data, False when it says there is nothing to show.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lethe.io import read_json

log = logging.getLogger(__name__)


def table_figure(name: str, tidy_csv: str | Path, paths: list[str | Path]) -> bool:
    """Figure ``name`` of :data:`lethe.report.figures.TABLE_FIGURES` from the tidy metrics CSV."""
    import pandas as pd

    from lethe.report.figures import TABLE_FIGURES

    if name not in TABLE_FIGURES:
        raise ValueError(f"table_figure: unknown figure {name!r}; known: {sorted(TABLE_FIGURES)}")
    shown = TABLE_FIGURES[name](pd.read_csv(tidy_csv), paths)
    log.info("figure %s: %s", name, "written" if shown else "nothing to show (placeholder written)")
    return shown


def fnn_figure(run_paths: list[str | Path], paths: list[str | Path]) -> bool:
    """FNN learning–unlearning curves from FNN run records (none: a placeholder)."""
    from lethe.report.figures import fnn_curves

    shown = fnn_curves([read_json(p) for p in run_paths], paths)
    log.info("figure fnn_curves from %d run records: %s", len(run_paths), "written" if shown else "placeholder")
    return shown


def confusion_figure(metrics_paths: list[str | Path], methods: list[str], paths: list[str | Path]) -> bool:
    """Test confusion matrices of ``methods`` (columns, in order) from their metrics JSONs."""
    from lethe.report.figures import confusion_matrices

    shown = confusion_matrices([read_json(p) for p in metrics_paths], methods, paths)
    log.info("figure confusion of %s: %s", methods, "written" if shown else "placeholder")
    return shown


def relearn_figure(metrics_paths: list[str | Path], paths: list[str | Path]) -> bool:
    """Relearn curves from metrics JSONs (none carrying a curve: a placeholder)."""
    from lethe.report.figures import relearn_curves

    shown = relearn_curves([read_json(p) for p in metrics_paths], paths)
    what = "written" if shown else "placeholder"
    log.info("figure relearn_curves from %d metrics JSONs: %s", len(metrics_paths), what)
    return shown


def lira_figure(metrics_paths: list[str | Path], paths: list[str | Path]) -> bool:
    """LiRA ROC curves from metrics JSONs (none carrying them: a placeholder)."""
    from lethe.report.figures import lira_roc

    shown = lira_roc([read_json(p) for p in metrics_paths], paths)
    log.info("figure lira_roc from %d metrics JSONs: %s", len(metrics_paths), "written" if shown else "placeholder")
    return shown


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): the figure its params name, from the files its source gives."""
    name, outputs = job.params.figure, [job.output.pdf, job.output.png]
    if name == "fnn_curves":
        fnn_figure(job.input.runs, outputs)
    elif name == "confusion":
        confusion_figure(job.input.metrics, job.params.methods, outputs)
    elif name == "relearn_curves":
        relearn_figure(job.input.metrics, outputs)
    elif name == "lira_roc":
        lira_figure(job.input.metrics, outputs)
    else:
        table_figure(name, job.input.tidy, outputs)
