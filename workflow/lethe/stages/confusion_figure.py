"""Rule figure_confusion: test confusion matrices before and after unlearning."""

from __future__ import annotations

from lethe.report.make_figures import confusion_figure


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the call that draws it."""
    confusion_figure(job.input.metrics, job.params.methods, [job.output.pdf, job.output.png])
