"""Rule train_sisa: train SISA's sharded, sliced ensemble (the model the sisa method unlearns from)."""

from lethe.device import Runtime
from lethe.stages.train_sisa import train_sisa


def main(job):
    train_sisa(
        job.input.npz,
        job.input.manifest,
        job.wildcards.arch,
        int(job.wildcards.seed),
        job.params.hyper,
        job.output.model,
        job.output.stages,
        runtime=Runtime.from_job(job),
    )
