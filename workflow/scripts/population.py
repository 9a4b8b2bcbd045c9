"""Rule population: N runs of one method on one forget set (the distribution-level metrics)."""

from lethe.device import Runtime
from lethe.stages.population import write_population


def main(job):
    write_population(
        job.wildcards.method,
        job.input.npz,
        job.input.manifest,
        job.input.forget_set,
        job.input.original,
        job.params.hyper,
        int(job.wildcards.seed),
        job.params.models,
        job.output.npz,
        job.output.record,
        runtime=Runtime.from_job(job),
    )
