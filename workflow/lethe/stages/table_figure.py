"""Rules figure_*: one figure drawn from the tidy metrics table, as PDF (paper) and PNG (report)."""

from __future__ import annotations

from lethe.report.make_figures import table_figure


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the call that draws it."""
    table_figure(job.params.figure, job.input.tidy, [job.output.pdf, job.output.png])
