"""Rule tune: one method's hyperparameter search for one dataset, architecture and forget-set kind."""

from lethe.device import Runtime
from lethe.stages.tune import tune


def main(job):
    tune(
        job.wildcards.method,
        job.wildcards.kind,
        job.input.npz,
        job.input.manifest,
        job.input.forget_set,
        job.input.original,
        job.input.retrain,
        job.input.retrain_run,
        job.params.hyper,
        job.params.searched,
        job.params.fixed,
        job.params.trials,
        job.params.time_fraction,
        job.params.seed,
        job.output.tuned,
        job.params.studies,
        code_inputs=[job.input.code],
        runtime=Runtime.from_job(job),
    )
