"""Rule figure_relearn_curves: forget accuracy during relearning, from every metrics JSON."""

from __future__ import annotations

from lethe.report.make_figures import relearn_figure


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the call that draws it."""
    relearn_figure(job.input.metrics, [job.output.pdf, job.output.png])
