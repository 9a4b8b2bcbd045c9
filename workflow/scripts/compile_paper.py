"""Rule compile_paper: latexmk over paper/ with the generated files and figures, to paper.pdf."""

from lethe.stages.compile_paper import compile_paper


def main(job):
    compile_paper(
        job.params.source_dir,
        job.input.generated,
        job.params.build_dir,
        job.output[0],
        figures=job.input.figures,
    )
