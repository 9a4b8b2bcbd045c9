"""Rule figure_relearn_curves: forget accuracy during relearning, from every metrics JSON."""

from lethe.report.make_figures import relearn_figure


def main(job):
    relearn_figure(job.input.metrics, [job.output.pdf, job.output.png])
