"""Rule make_forget_set: materialise one forget set as JSON (classes and indices)."""

from lethe.stages.make_forget_set import make_forget_set


def main(job):
    make_forget_set(
        job.input.npz,
        job.input.manifest,
        job.wildcards.forget_set,
        job.params.spec,
        job.output[0],
    )
