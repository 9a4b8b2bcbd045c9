"""Rule train_erm: train ERM-KTP's original with class masks (the model the erm_ktp method unlearns from)."""

from lethe.device import Runtime
from lethe.stages.train_erm import train_erm_original


def main(job):
    train_erm_original(
        job.input.npz,
        job.input.manifest,
        job.wildcards.arch,
        int(job.wildcards.seed),
        job.params.recipe,
        job.params.hyper,
        job.output.model,
        job.output.stages,
        runtime=Runtime.from_job(job),
    )
