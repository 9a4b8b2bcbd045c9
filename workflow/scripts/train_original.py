"""Rule train_original: train the original model of one dataset/arch/seed."""

from lethe.device import Runtime
from lethe.stages.train_original import train_original


def main(job):
    train_original(
        job.input.npz,
        job.input.manifest,
        job.wildcards.arch,
        int(job.wildcards.seed),
        job.params.recipe,
        job.output.model,
        runtime=Runtime.from_job(job),
    )
