"""Rule figure_lira_roc: LiRA's ROC curves (audit and forget set), from every metrics JSON."""

from lethe.report.make_figures import lira_figure


def main(job):
    lira_figure(job.input.metrics, [job.output.pdf, job.output.png])
