"""Rule unlearn: apply one method to one forget set (retrain: the gold standard)."""

from lethe import tuned
from lethe.device import Runtime
from lethe.stages.unlearn import unlearn


def main(job):
    unlearn(
        job.wildcards.method,
        job.input.npz,
        job.input.manifest,
        job.input.forget_set,
        job.input.original,
        tuned.with_search(job.params.hyper, job.input.get("tuned"), job.wildcards.method),
        int(job.wildcards.seed),
        job.output.model,
        job.output.run,
        runtime=Runtime.from_job(job),
    )
