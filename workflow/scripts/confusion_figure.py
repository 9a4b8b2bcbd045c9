"""Rule figure_confusion: test confusion matrices before and after unlearning."""

from lethe.report.make_figures import confusion_figure


def main(job):
    confusion_figure(job.input.metrics, job.params.methods, [job.output.pdf, job.output.png])
