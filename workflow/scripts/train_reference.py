"""Rule train_reference: the reference models of one dataset/arch/seed (for LiRA)."""

from lethe.device import Runtime
from lethe.stages.train_reference import write_reference


def main(job):
    write_reference(
        job.input.npz,
        job.input.manifest,
        job.wildcards.arch,
        int(job.wildcards.seed),
        job.params.recipe,
        job.params.models,
        job.output.scores,
        job.output.models,
        job.output.meta,
        runtime=Runtime.from_job(job),
    )
