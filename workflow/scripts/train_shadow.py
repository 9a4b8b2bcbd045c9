"""Rule train_shadow: the shadow originals of one dataset/arch/seed (for U-LiRA)."""

from lethe.device import Runtime
from lethe.stages.train_shadow import write_shadows


def main(job):
    write_shadows(
        job.input.npz,
        job.input.manifest,
        job.wildcards.arch,
        int(job.wildcards.seed),
        job.params.recipe,
        job.params.models,
        job.output.models,
        job.output.meta,
        runtime=Runtime.from_job(job),
    )
