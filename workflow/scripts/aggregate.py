"""Rule aggregate: every metrics JSON into a tidy CSV and its summary."""

from lethe.stages.aggregate import aggregate


def main(job):
    aggregate(job.input.metrics, job.output.tidy, job.output.summary, job.output.paired)
