"""Rule figure_fnn_curves: FNN learning-unlearning curves from the FNN run records."""

from lethe.report.make_figures import fnn_figure


def main(job):
    fnn_figure(job.input.runs, [job.output.pdf, job.output.png])
