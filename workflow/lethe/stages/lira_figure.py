"""Rule figure_lira_roc: LiRA's ROC curves (audit and forget set), from every metrics JSON."""

from __future__ import annotations

from lethe.report.make_figures import lira_figure


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the call that draws it."""
    lira_figure(job.input.metrics, [job.output.pdf, job.output.png])
