"""Rule evaluate: metrics of one model (original or unlearned) on one forget set."""

from lethe.device import Runtime
from lethe.stages.evaluate import evaluate


def main(job):
    evaluate(
        job.input.model,
        job.input.npz,
        job.input.manifest,
        job.input.forget_set,
        job.output[0],
        run_path=job.input.get("run"),
        retrain_run_path=job.input.get("retrain_run"),
        method=job.wildcards.evaluated,
        batch_size=job.params.batch_size,
        original_path=job.input.original,
        retrain_path=job.input.retrain,
        reference_paths=(job.input.reference, job.input.reference_meta) if job.input.get("reference") else None,
        settings=job.params.settings,
        runtime=Runtime.from_job(job),
    )
