"""Rule figure_fnn_curves: FNN learning-unlearning curves from the FNN run records."""

from __future__ import annotations

from lethe.report.make_figures import fnn_figure


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the call that draws it."""
    fnn_figure(job.input.runs, [job.output.pdf, job.output.png])
