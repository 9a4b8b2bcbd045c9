"""Rule aggregate: every metrics JSON (evaluations and populations) into a tidy CSV and its summary."""

from lethe.stages.aggregate import aggregate


def main(job):
    aggregate(
        [*job.input.metrics, *job.input.get("quality", [])], job.output.tidy, job.output.summary, job.output.paired
    )
