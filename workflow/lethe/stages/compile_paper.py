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
