"""Rule population: N runs of one method on one forget set (the distribution-level metrics),
from the original, or for rule population_shadow from the shadow originals."""

from lethe import tuned
from lethe.device import Runtime
from lethe.stages.population import write_population


def main(job):
    shadow = job.input.get("shadow_models")
    write_population(
        job.wildcards.method,
        job.input.npz,
        job.input.manifest,
        job.input.forget_set,
        job.input.original,
        tuned.with_search(job.params.hyper, job.input.get("tuned"), job.wildcards.method),
        int(job.wildcards.seed),
        job.params.models,
        job.output.npz,
        job.output.record,
        runtime=Runtime.from_job(job),
        shadow_paths=None if shadow is None else (shadow, job.input.shadow_meta),
    )
