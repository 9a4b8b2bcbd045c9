"""Rules figure_*: one figure drawn from the tidy metrics table, as PDF (paper) and PNG (report)."""

from lethe.report.make_figures import table_figure


def main(job):
    table_figure(job.params.figure, job.input.tidy, [job.output.pdf, job.output.png])
