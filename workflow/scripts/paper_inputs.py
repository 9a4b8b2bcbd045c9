"""Rule paper_inputs: the LaTeX table, number macros and setup section."""

from lethe.stages.paper_inputs import paper_inputs


def main(job):
    paper_inputs(
        job.input.tidy,
        job.input.summary,
        job.params.config,
        job.params.method_params,
        job.input.manifests,
        job.input.forget_sets,
        job.input.originals,
        dict(job.output.items()),
        tuned_paths=job.input.get("tuned", []),
    )
