"""Rule compile_paper: latexmk over paper/ with the declared generated files and figures."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lethe.report.paper import build_paper


def compile_paper(
    source_dir: str | Path,
    generated: Iterable[str | Path],
    build_dir: str | Path,
    pdf_out: str | Path,
    figures: Iterable[str | Path] = (),
) -> Path:
    return build_paper(source_dir, generated, build_dir, pdf_out, figures=figures)


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    compile_paper(
        job.params.source_dir,
        job.input.generated,
        job.params.build_dir,
        job.output[0],
        figures=job.input.figures,
    )
